"""Shared `responses=` maps: the refusals a route gives beyond those every route of its kind
gives (services.api.openapi adds 401/403 to signed-in routes, 400/413 to routes with a body and
422 to every route). Each is documented with the Problem schema (application/problem+json)."""

from __future__ import annotations

from typing import Any

Responses = dict[int | str, dict[str, Any]]

PARTICIPANT_404: Responses = {404: {"description": (
    "The participant is not enrolled (as of as_of), or is at a site you may not read: the "
    "same answer, so a refusal reveals nothing.")}}
ACCOUNT_404: Responses = {404: {"description": "There is no such account."}}
EXPORT_404: Responses = {404: {"description": (
    "No such export, or not one the caller may see (the same answer).")}}
CONFLICT_409: Responses = {409: {"description": (
    "Well formed but contradicts the record (a sequencing rule, a lock, a stale "
    "expected_version, a reused Idempotency-Key, write contention): `rule` names it; nothing "
    "was written.")}}
RECORDING_409: Responses = {409: {"description": (
    "Too many concurrent writers on the same stream (`rule`: write_contention); retry.")}}
WRONG_PASSWORD_401: Responses = {401: {"description": (
    "Wrong password (it counts toward the lockout), or a locked or deactivated account.")}}
THROTTLED_429: Responses = {429: {"description": (
    "Too many failed attempts from this address or for this username; the Retry-After "
    "header says when to try again.")}}
FORM_415: Responses = {415: {"description": (
    "The body is not a form: send Content-Type application/x-www-form-urlencoded with "
    "username and password (not JSON).")}}


def merged(*maps: Responses) -> Responses:
    """One `responses=` map from several."""
    out: Responses = {}
    for responses in maps:
        out.update(responses)
    return out
