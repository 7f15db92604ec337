"""Overall time-point response from target, non-target and new lesions (docs/rules.md table)."""

from __future__ import annotations

from domain.response.responses import NonTargetResponse, Response


def overall_response(target: Response, non_target: NonTargetResponse, new_lesion: bool) -> Response:
    """RECIST 1.1 Table 1: a new lesion or any PD is PD; CR needs non-targets CR or none."""
    if new_lesion or target is Response.PD or non_target is NonTargetResponse.PD:
        return Response.PD
    if target is Response.CR:
        if non_target in (NonTargetResponse.CR, NonTargetResponse.NONE):
            return Response.CR
        return Response.PR
    return target
