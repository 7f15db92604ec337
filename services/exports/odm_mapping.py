"""How another EDC's ODM export of this trial's CRF maps onto the ledger's event catalogue.

Another system names the same case report form in its own words: a Rave study calls the
enrolment page `ENROL` and the sex field `ENROL.SEX` coded `M`/`F`; the ledger calls them the
form `F.ParticipantEnrolled` and the item `IT.ParticipantEnrolled.sex` coded `male`/`female`.
A mapping file (JSON) says, once per source system, which of its forms is which event type,
which of its item groups holds which rows of that event (`reads.targets`: a target lesion per
row), which of its items is which field (by the field's dotted path in the event's data, as
docs/exports/odm.md lists them), how its codes and dates read, and who its users are (the
role each worked under, which its ClinicalData does not say). docs/exports/odm-import.md
describes the format; docs/exports/odm-mapping-rave.json is one for a Rave-style export.

The mapping is checked whole against the catalogue before a file is read: every form, group
and field it names must exist, so a typo in the mapping is refused with its place, never
silently dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from services.exports.odm_model import (
    OCCURRED_ON,
    ROLE_CODES,
    GroupSpec,
    ItemSpec,
    Metadata,
    study_metadata,
)

Oid = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ItemMap(BaseModel):
    """One item of the source: the field it carries (a dotted path in the event's data, or
    `occurred_on` for the entry's clinical date), its codes (source text -> the ledger's
    text) and, for a date written as text, its `strptime` format."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: Oid
    codes: dict[str, str] = Field(default_factory=dict)
    date_format: Oid | None = None


class GroupMap(BaseModel):
    """One item group of the source: the rows of the event it holds (`""`: the event's own
    single values; `reads.targets`: one target lesion per row) and its items."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rows: str = ""
    items: dict[Oid, ItemMap]


class FormMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    event_type: Oid
    groups: dict[Oid, GroupMap]


class UserMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: Oid
    role: Oid


class ForeignMapping(BaseModel):
    """The whole mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    forms: dict[Oid, FormMap]
    users: dict[Oid, UserMap] = Field(default_factory=dict)
    default_role: Oid | None = None
    """The role of a user the `users` table does not list (none: such a user is refused)."""
    sites: dict[Oid, str] = Field(default_factory=dict)
    """Source LocationOIDs (SiteRef, LocationRef) -> the ledger's site ids; unlisted: as is."""
    timezone_of_unzoned_stamps: Oid = "UTC"
    """DateTimeStamps without an offset are read as UTC (the only zone supported)."""


@dataclass(frozen=True)
class ResolvedItem:
    """A source item resolved against the catalogue: the ledger's ItemDef it fills."""

    item: ItemSpec
    source: ItemMap


@dataclass(frozen=True)
class ResolvedGroup:
    group: GroupSpec
    items: dict[str, ResolvedItem]


@dataclass(frozen=True)
class ResolvedForm:
    event_type: str
    groups: dict[str, ResolvedGroup]


@dataclass(frozen=True)
class Mapping:
    """A mapping file checked against the catalogue: source OIDs -> the ledger's specs."""

    name: str
    sha256: str
    forms: dict[str, ResolvedForm]
    raw: ForeignMapping

    def user(self, user_oid: str, where: str) -> tuple[str, str]:
        """The ledger username and role of a source user."""
        known = self.raw.users.get(user_oid)
        if known is not None:
            return known.username, known.role
        if self.raw.default_role is None:
            raise MappingError(f"{where}: user {user_oid!r} is not in the mapping's users "
                               "and the mapping gives no default_role")
        return user_oid, self.raw.default_role

    def site(self, location_oid: str) -> str:
        return self.raw.sites.get(location_oid, location_oid)


class MappingError(Exception):
    """The mapping file is not one the catalogue can use (its place named)."""


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file; MappingError names what is wrong and where."""
    raw = Path(path).read_bytes()
    try:
        parsed = ForeignMapping.model_validate(json.loads(raw))
    except json.JSONDecodeError as error:
        raise MappingError(f"mapping {path}: not JSON ({error})") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MappingError(f"mapping {path}: {where}: {first['msg']}") from None
    return resolve(parsed, hashlib.sha256(raw).hexdigest())


def resolve(parsed: ForeignMapping, sha256: str, metadata: Metadata | None = None) -> Mapping:
    metadata = metadata or study_metadata()
    forms: dict[str, ResolvedForm] = {}
    for role in [parsed.default_role, *(u.role for u in parsed.users.values())]:
        if role is not None and role not in ROLE_CODES:
            raise MappingError(f"mapping: role {role!r} is not one of {', '.join(ROLE_CODES)}")
    if parsed.timezone_of_unzoned_stamps != "UTC":
        raise MappingError("mapping: timezone_of_unzoned_stamps: only UTC is supported")
    for form_oid, form in parsed.forms.items():
        where = f"mapping: forms.{form_oid}"
        spec = metadata.forms.get(form.event_type)
        if spec is None or spec.kind != "clinical":
            raise MappingError(f"{where}.event_type: {form.event_type!r} is not a clinical "
                               "event type of the catalogue")
        by_path = {g.oid.removeprefix(f"IG.{form.event_type}").lstrip("."): g
                   for g in spec.groups if g.steps or not g.repeating}
        groups: dict[str, ResolvedGroup] = {}
        for group_oid, group in form.groups.items():
            spec_group = by_path.get(group.rows)
            if spec_group is None:
                raise MappingError(f"{where}.groups.{group_oid}.rows: {group.rows!r} is not a "
                                   f"row path of {form.event_type} ({', '.join(sorted(by_path))})")
            items = {item.field if item.oid == OCCURRED_ON else
                     item.oid.removeprefix(f"IT.{form.event_type}."): item
                     for item in spec_group.items}
            resolved: dict[str, ResolvedItem] = {}
            for item_oid, item in group.items.items():
                if item.field not in items:
                    raise MappingError(
                        f"{where}.groups.{group_oid}.items.{item_oid}.field: {item.field!r} "
                        f"is not a field of these rows ({', '.join(sorted(items))})")
                if item.date_format is not None:
                    _check_format(item.date_format, f"{where}.groups.{group_oid}.items."
                                  f"{item_oid}.date_format")
                resolved[item_oid] = ResolvedItem(items[item.field], item)
            groups[group_oid] = ResolvedGroup(spec_group, resolved)
        forms[form_oid] = ResolvedForm(form.event_type, groups)
    return Mapping(parsed.name, sha256, forms, parsed)


def _check_format(date_format: str, where: str) -> None:
    try:
        datetime(2020, 1, 2).strftime(date_format)
    except ValueError as error:
        raise MappingError(f"{where}: {error}") from None


def as_dict(mapping: Mapping) -> dict[str, Any]:
    """What the provenance of an imported event says of the mapping used."""
    return {"name": mapping.name, "sha256": mapping.sha256}
