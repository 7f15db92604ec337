"""The vocabulary of response assessment (RECIST 1.1 §4.3-4.4, mRECIST)."""

from __future__ import annotations

from enum import StrEnum


class Response(StrEnum):
    """A target, overall or best overall response."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"


class NonTargetResponse(StrEnum):
    """Non-target status at one read; "none" when the read lists no non-targets."""

    CR = "CR"
    NON_CR_NON_PD = "non-CR/non-PD"
    PD = "PD"
    NE = "NE"
    NONE = "none"
