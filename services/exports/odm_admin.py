"""AdminData of the ODM export: the users, locations and signature meanings the clinical data
refers to, each declared once.

- A User per account that recorded or signed anything exported, as the account stood at the
  export's moment (its account stream replayed to then): login name, full name, its role
  then in DisplayName ("Jane Doe (investigator)"; ODM's User has no role element) and
  UserType (site staff are Investigator, sponsor-side roles Sponsor), and a LocationRef for
  each of its sites among the exported locations. A name with no account (events written
  straight through the application layer) still gets a User, with its login name only.
- A Location per site: the participants' sites and the site each event was recorded at;
  `LOC.study` (a Sponsor location) for the study record's events, recorded at no site.
- A SignatureDef per signature meaning used, with the Part 11 legal reason (ADR 0006).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from domain.account import USERNAME_PATTERN, Account, account_stream_id
from domain.protocol import STUDY_START
from services.application import TrialLedger
from services.exports.odm_metadata import STUDY_OID
from services.exports.odm_xml import Element, root, sub

STUDY_LOCATION = "study"
"""Where an event recorded at no site (the study record's) was recorded: the sponsor."""
SITE_STAFF = frozenset({"site_coordinator", "investigator"})
SPONSOR_SIDE = frozenset({"monitor", "data_manager", "auditor", "admin"})
LEGAL_REASON = (
    "Electronic signature under 21 CFR Part 11 (§11.50, §11.70, §11.200): the signer "
    "re-entered their password; the signature shows the printed name, the time and the meaning, "
    "and is bound to the participant's record by the stream version and chain hash it covers "
    "(CryptoBindingManifest). Any later entry of that participant invalidates it.")


@dataclass
class References:
    """What the clinical data refers to, gathered while it is written: AdminData declares
    exactly these (usernames, site ids, signature meanings)."""

    users: set[str] = field(default_factory=set)
    locations: set[str] = field(default_factory=set)
    meanings: set[str] = field(default_factory=set)

    def user(self, username: str) -> str:
        self.users.add(username)
        return user_oid(username)

    def location(self, site_id: str) -> str:
        self.locations.add(site_id)
        return location_oid(site_id)

    def meaning(self, meaning: str) -> str:
        self.meanings.add(meaning)
        return signature_def_oid(meaning)


def user_oid(username: str) -> str:
    return f"USR.{username}"


def location_oid(site_id: str) -> str:
    return f"LOC.{site_id}"


def signature_def_oid(meaning: str) -> str:
    """A meaning is free text: its OID is a digest of it, the same in every export."""
    return "SD." + hashlib.sha256(meaning.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def account_at(ledger: TrialLedger, username: str, as_of: str | None) -> Account | None:
    """The account as it stood at recorded time `as_of` (None: now); None if there was none."""
    if as_of is None:
        return ledger.account(username)
    if not USERNAME_PATTERN.fullmatch(username):
        return None
    account: Account | None = ledger.stream_as_of(account_stream_id(username), as_of)
    return account


def admin_element(ledger: TrialLedger, refs: References, as_of: str | None,
                  metadata_oid: str) -> Element:
    """<AdminData> for the references gathered from the clinical data."""
    admin = root("AdminData", StudyOID=STUDY_OID)
    for username in sorted(refs.users):
        _user(admin, username, account_at(ledger, username, as_of), refs.locations)
    for site_id in sorted(refs.locations):
        location = sub(admin, "Location", OID=location_oid(site_id), Name=site_id or "-",
                       LocationType="Sponsor" if site_id == STUDY_LOCATION else "Site")
        sub(location, "MetaDataVersionRef", StudyOID=STUDY_OID,
            MetaDataVersionOID=metadata_oid, EffectiveDate=STUDY_START.isoformat())
    for meaning in sorted(refs.meanings):
        definition = sub(admin, "SignatureDef", OID=signature_def_oid(meaning),
                         Methodology="Electronic")
        sub(definition, "Meaning", meaning)
        sub(definition, "LegalReason", LEGAL_REASON)
    return admin


def _user(admin: Element, username: str, account: Account | None, sites: set[str]) -> None:
    view: dict[str, Any] = account.public_view() if account is not None else {}
    role = view.get("role")
    user_type = ("Investigator" if role in SITE_STAFF else
                 "Sponsor" if role in SPONSOR_SIDE else "Other")
    user = sub(admin, "User", OID=user_oid(username), UserType=user_type)
    sub(user, "LoginName", username)
    if not view:
        sub(user, "DisplayName", f"{username} (no account)")
        return
    state = "" if view["active"] else ", deactivated"
    sub(user, "DisplayName", f"{view['full_name']} ({role or 'no role'}{state})")
    sub(user, "FullName", str(view["full_name"]))
    for site_id in sorted(set(view["sites"]) & sites):
        sub(user, "LocationRef", LocationOID=location_oid(site_id))
