"""Non-target status at one read (docs/rules.md, "Non-target status")."""

from __future__ import annotations

from domain.response.reads import Read
from domain.response.responses import NonTargetResponse


def non_target_response(read: Read) -> NonTargetResponse:
    """Any progression -> PD; all absent -> CR; any not assessed -> NE; none listed -> "none"."""
    statuses = [lesion.status for lesion in read.non_targets]
    if not statuses:
        return NonTargetResponse.NONE
    if "progression" in statuses:
        return NonTargetResponse.PD
    if all(status == "absent" for status in statuses):
        return NonTargetResponse.CR
    if "not_assessed" in statuses:
        return NonTargetResponse.NE
    return NonTargetResponse.NON_CR_NON_PD
