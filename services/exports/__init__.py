"""Files that leave the ledger: CDISC ODM 1.3.2 with the audit trail, SDTM and ADaM as SAS
transport files, each recorded in the ledger with the SHA-256 of what was produced."""
