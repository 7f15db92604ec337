"""What a study-wide answer covers, said in the answer itself.

`scope` names the sites the caller may read (never another site's name or count), how many
participants the answer counts of those enrolled there, the recorded time and the cutoff.
`empty` and `note` make an answer that covers nothing say so, and why: nothing was recorded
yet as of the asked time, or nothing at the caller's sites."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from domain.casebook import status
from domain.participant import Participant
from infra.ledger.chain import format_recorded_at
from infra.ledger.store import LedgerStore
from projections.outcome_rows import participant_rows
from projections.queries import participant_list
from services.access import Action, visible_sites
from services.application import PARTICIPANT_TOPIC_PREFIX, Actor, TrialLedger

REPLACED = "\ufffd"  # what domain.text.storable puts in place of text a store cannot hold


def readable_sites(actor: Actor, action: Action = "read_clinical") -> tuple[str, ...] | None:
    """The sites the actor may read for `action`, sorted; None: every site."""
    sites = visible_sites(actor.role, actor.sites, action)
    return None if sites is None else tuple(sorted(sites))


def visible_participants(ledger: TrialLedger, sites: tuple[str, ...] | None,
                         as_of: str | None) -> list[Participant]:
    """Participants enrolled as of `as_of` at `sites` (None: every site)."""
    chosen = []
    for participant_id, _ in ledger.participant_ids(as_of=as_of):
        participant = ledger.participant(participant_id, as_of=as_of)
        if sites is None or participant.site_id in sites:
            chosen.append(participant)
    return chosen


def current_participants(ledger: TrialLedger, engine: Engine,
                         sites: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Every participant enrolled now at `sites` (None: every site), in id order, as
    {participant_id, site_id, status, version}: what `visible_participants(..., None)`
    gives, read from the `participant_summaries` read model. Participants whose streams
    changed after the projector's position are folded from the log, so a writer sees its
    own write at once; nothing is written."""
    rows = participant_list(engine, PARTICIPANT_TOPIC_PREFIX)
    if rows is None or any(REPLACED in pid or REPLACED in str(site) or REPLACED in str(state)
           for pid, site, state, _, _ in rows):
        # Rebuilds kept switching generations, or a read-model row holds text made storable
        # (domain.text.storable), which may differ from the event's own: fold everything,
        # as an as_of read does.
        return [_summary(p) for p in visible_participants(ledger, sites, None)]
    chosen = []
    for pid, site, state, version, changed in rows:
        summary = (_summary(ledger.participant(pid)) if changed else
                   {"participant_id": pid, "site_id": site, "status": state,
                    "version": int(version)})
        if sites is None or summary["site_id"] in sites:
            chosen.append(summary)
    return chosen


def participant_summaries(ledger: TrialLedger, engine: Engine, sites: tuple[str, ...] | None,
                          as_of: str | None) -> list[dict[str, Any]]:
    """{participant_id, site_id, status, version} of the participants enrolled as of `as_of`
    at `sites`, in id order: now from `participant_summaries`, at an earlier time from the
    outcome rows true then (each holds the participant's version and status)."""
    if as_of is None:
        return current_participants(ledger, engine, sites)
    found = participant_rows(engine, PARTICIPANT_TOPIC_PREFIX, as_of)
    if found is None or any(REPLACED in pid or REPLACED in site for pid, site, _, _ in found.rows):
        return [_summary(p) for p in visible_participants(ledger, sites, as_of)]
    chosen = [{"participant_id": pid, "site_id": site, "status": state, "version": version}
              for pid, site, state, version in found.rows]
    chosen += [_summary(ledger.participant(pid, as_of=as_of)) for pid in found.changed]
    return sorted((s for s in chosen if sites is None or s["site_id"] in sites),
                  key=lambda s: s["participant_id"])


def _summary(participant: Participant) -> dict[str, Any]:
    return {"participant_id": participant.id, "site_id": participant.site_id,
            "status": status(participant), "version": participant.version}


def moment_of(as_of: str | None) -> str:
    """The recorded time an answer reflects: the asked as_of, else now."""
    return as_of if as_of is not None else format_recorded_at(datetime.now(UTC))


def where(sites: tuple[str, ...] | None) -> str:
    if sites is None:
        return "every site"
    return f"the sites you may read ({', '.join(sites) or 'none'})"


def scope(sites: tuple[str, ...] | None, *, enrolled: int, covered: int, as_of: str | None,
          cutoff: date | None = None, which: str = "") -> dict[str, Any]:
    """The `scope` object; `which` says which of the enrolled the answer counts when not all."""
    moment = moment_of(as_of)
    if covered == enrolled:
        summary = f"all {enrolled} participants enrolled at {where(sites)} as of {moment}"
    else:
        summary = (f"{covered} of the {enrolled} participants enrolled at {where(sites)} as of "
                   f"{moment}: {which}")
    if cutoff is not None:
        summary += f"; clinical cutoff {cutoff.isoformat()}"
    return {"sites": "all" if sites is None else list(sites), "participants": covered,
            "enrolled": enrolled, "as_of": moment, "cutoff": cutoff, "summary": summary}


def nothing_recorded_note(engine: Engine, as_of: str | None) -> str | None:
    """Why nothing can be shown when the ledger held nothing at `as_of`; None otherwise."""
    first = LedgerStore(engine).first_recorded_at()
    if first is None:
        return "nothing has been recorded yet"
    if as_of is not None and as_of < first:
        return f"nothing was recorded as of {as_of}: the ledger's first event is later"
    return None


def empty_state(engine: Engine, as_of: str | None, covers_anything: bool,
                nothing_here: str) -> dict[str, Any]:
    """`empty` and `note`: nothing recorded as of as_of, else `nothing_here` when the answer
    covers nothing at the caller's sites."""
    note = nothing_recorded_note(engine, as_of)
    if note is None and not covers_anything:
        note = nothing_here
    return {"empty": note is not None, "note": note}
