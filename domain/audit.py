"""What an event changed, field by field: the `changes` of the audit trail (old -> new).

Corrections show every field of the corrected entry whose value differs (and its date), voids
show the entry leaving the record, AE updates show the grade, seriousness or attribution that
moved. New entries change nothing that existed before, so they list no changes, except that
they invalidate the signatures standing before them. Events of other streams (accounts, the
study, the security log) show what they changed in the account or the study: role, sites,
locked, active, cutoffs; never a password hash.
"""

from __future__ import annotations

from typing import Any

from domain.entries import Entry
from domain.participant import RECORD_KEEPING_TYPES, Participant

Change = dict[str, Any]


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Nested dicts and lists as dotted paths (reads.mRECIST.targets.0.diameter_mm)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}"))
        return out or {prefix: {}}
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}"))
        return out or {prefix: []}
    return {prefix: value}


def diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "data") -> list[Change]:
    before, after = flatten(old, prefix), flatten(new, prefix)
    return [
        {"field": field, "old": before.get(field), "new": after.get(field)}
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    ]


def _correction(before: Participant, data: dict[str, Any]) -> list[Change]:
    """What a correction changed: the entry's clinical date (only when the correction gives
    a new one) and each field of its data."""
    target: Entry = before.entries[data["corrects"]]
    changes = []
    new_date = data.get("occurred_on")
    if new_date is not None and target.occurred_on.isoformat() != new_date:
        changes.append({"field": "occurred_on", "old": target.occurred_on.isoformat(),
                        "new": new_date})
    return changes + diff(target.data, data["data"])


def _void(before: Participant, data: dict[str, Any]) -> list[Change]:
    target = before.entries[data["voids"]]
    return [{"field": "entry", "old": f"{target.type} of {target.occurred_on.isoformat()}",
             "new": "voided"}]


def _ae_update(before: Participant, data: dict[str, Any]) -> list[Change]:
    current: dict[str, Any] = {}
    for entry in before.effective_entries():
        if entry.data.get("ae_id") != data["ae_id"]:
            continue
        if entry.type == "AdverseEventReported":
            current = {k: entry.data[k] for k in ("grade", "serious", "related_to")}
        elif entry.type == "AdverseEventUpdated":
            current.update({k: v for k, v in entry.data.items()
                            if k in ("grade", "serious", "related_to") and v is not None})
    return [
        {"field": f"data.{name}", "old": current.get(name), "new": data[name]}
        for name in ("grade", "serious", "related_to")
        if data.get(name) is not None and data[name] != current.get(name)
    ]


def changes_for(before: Participant | None, type_name: str, data: dict[str, Any]
                ) -> list[Change]:
    """The field changes an event makes to what `before` showed."""
    if before is None:
        return []
    if type_name in RECORD_KEEPING_TYPES:
        return _record_keeping(type_name, data)
    invalidated = [_change(f"signature.{s.signature_id}", "valid", "invalidated")
                   for s in before.signatures if s.invalidated_by is None]
    if type_name == "EntryCorrected":
        return _correction(before, data) + invalidated
    if type_name == "EntryVoided":
        return _void(before, data) + invalidated
    if type_name == "AdverseEventUpdated":
        return _ae_update(before, data) + invalidated
    return invalidated


def _change(field: str, old: Any, new: Any) -> Change:
    return {"field": field, "old": old, "new": new}


def _record_keeping(type_name: str, data: dict[str, Any]) -> list[Change]:
    if type_name == "CasebookSigned":
        return [_change("signature", None, f"{data['full_name']} ({data['signer']}): "
                                           f"{data['meaning']}; covers version "
                                           f"{data['covers_version']}")]
    if type_name == "ParticipantTransferred":
        return [_change("site_id", data["from_site"], data["to_site"])]
    return [_change("locked", type_name != "ParticipantLocked", type_name == "ParticipantLocked")]


_FLAGS = {
    "AccountLocked": ("locked", False, True), "AccountUnlocked": ("locked", True, False),
    "AccountDeactivated": ("active", True, False),
    "DatabaseLocked": ("database_locked", False, True),
    "DatabaseUnlocked": ("database_locked", True, False),
}


def stream_changes(before: Any, event: Any) -> list[Change]:
    """What an account, study or security-log event changed (`before`: that stream's state)."""
    name = type(event).__name__
    if name == "AccountCreated":
        return [_change("role", None, event.account_role),
                _change("sites", None, list(event.sites)),
                _change("full_name", None, event.full_name)]
    if name in _FLAGS:
        return [_change(*_FLAGS[name])]
    if name == "DataCutoffDeclared":
        return [_change(f"cutoff.{event.name}", None, event.cutoff_on)]
    if name == "ExportProduced":
        return [_change(f"export.{event.export_format}.{f['name']}", None,
                        f"sha256 {f['sha256']} ({f['size']} bytes)") for f in event.files]
    if name == "EventsVerified":
        return [_change(f"sdv.{item['event_id']}", None, f"verified (entry sha256 "
                        f"{item['entry_sha256']})") for item in event.entries]
    if name == "VerificationWithdrawn":
        return [_change(f"sdv.{event.withdraws}", "verified", f"withdrawn ({event.because})")]
    if before is None or not hasattr(before, "failed_logins"):
        return []
    if name == "RoleGranted":
        return [_change("role", before.account_role, event.account_role)]
    if name == "RoleRevoked":
        return [_change("role", before.account_role, None)]
    if name == "SitesAssigned":
        return [_change("sites", before.sites, list(event.sites))]
    if name == "PasswordChanged":
        return [_change("password_version", before.password_version,
                        before.password_version + 1)]
    failures = getattr(event, "consecutive_failures", 0)
    if name in ("LoginFailed", "LoginSucceeded") and failures != before.failed_logins:
        return [_change("consecutive_failed_logins", before.failed_logins, failures)]
    return []
