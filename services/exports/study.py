"""The study's identity in the exported datasets, shared by the SDTM and ADaM files."""

from __future__ import annotations

STUDY_ID = "HCC-TACE-CAM-APA"
"""STUDYID of every SDTM and ADaM record: the trial's identifier in these files, so that
USUBJID (`STUDYID-<participant id>`) is the same in both and an ADaM row joins its SDTM
records."""


def usubjid(participant_id: str) -> str:
    """USUBJID of a participant: STUDYID and the ledger's participant id, joined by a hyphen."""
    return f"{STUDY_ID}-{participant_id}"
