"""Monitoring: what follows the ledger's new events and what monitors act on (source-data
verification, services/monitoring/sdv.py)."""
