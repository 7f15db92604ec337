"""The study report: a signed PDF of the endpoints, safety and participant flow at a clinical
cutoff, whose SHA-256 is recorded in the ledger like every other export."""
