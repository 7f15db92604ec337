"""Queries on the ledger: open and move them, list them as of any recorded time, count them.

Commands load the query's stream, let domain/queries.py decide, and save (`update_stream`);
what the query is on (the participant's event, one field of it, the correction an answer
cites) is checked against the participant's record first. Reads fold each query stream up to
the version recorded by `as_of`, so a list or a count as of a past moment is what a reader
saw then. A query belongs to its participant's site as of the read: after a transfer the new
site answers it.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.errors import FieldProblem, InvalidEntry, RuleViolation, UnknownParticipant
from domain.ledger_event import Author
from domain.participant import RECORD_KEEPING_TYPES, Participant
from domain.queries import MANUAL, STATES, Query, query_stream_id
from infra.ledger.chain import parse_recorded_at
from services.application import PARTICIPANT_TOPIC_PREFIX, TrialLedger

QUERY_TOPIC_PREFIX = "domain.queries:"
AGE_BUCKETS = ((0, 7), (8, 14), (15, 30), (31, None))
"""Days since opening, as a monitor's visit report groups the active queries."""


def _field_exists(data: Any, path: str) -> bool:
    """Whether `path` (keys and list indices joined by "/") names a value in the data."""
    node = data
    for part in path.split("/"):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def open_query(ledger: TrialLedger, participant: Participant, *, event_id: str,
               field: str | None, text: str, by: Author, candidate: bool = False) -> Query:
    """Open a manual query on one of the participant's entries (and one field of its data)."""
    entry = participant.entries.get(event_id)
    if entry is None or entry.type in RECORD_KEEPING_TYPES:
        raise InvalidEntry(f"event {event_id} is not an entry of participant {participant.id}",
                           [FieldProblem("event_id", "no such entry of this participant")])
    if entry.voided_by is not None:
        raise RuleViolation("query_on_voided_entry",
                            f"event {event_id} was voided by {entry.voided_by}: there is no "
                            "value left to query")
    if field is not None and not _field_exists(entry.data, field):
        raise InvalidEntry(f"field {field!r} is not in the data of {entry.type} {event_id}",
                           [FieldProblem("field", f"not a field of this {entry.type}; "
                                         f"its fields are {', '.join(sorted(entry.data))}")])
    query_id = str(uuid.uuid4())
    query = Query.open(query_id, participant_id=participant.id, site_id=participant.site_id,
                       target_event_id=event_id, target_type=entry.type, field=field,
                       text=text, origin=MANUAL, by=by, candidate=candidate)
    ledger.save(query)
    return query


def check_correction(participant: Participant, query: Query, correction_event_id: str) -> None:
    """An answer may cite only a correction or a void of the entry the query is on."""
    entry = participant.entries.get(correction_event_id)
    data = entry.data if entry is not None else {}
    if entry is None or query.target_event_id not in (data.get("corrects"), data.get("voids")):
        raise InvalidEntry(
            f"event {correction_event_id} is not a correction or a void of event "
            f"{query.target_event_id}, the entry query {query.query_id} is on",
            [FieldProblem("correction_event_id",
                          "not a correction or void of the queried entry")])


def change_query(ledger: TrialLedger, query_id: str, change: Callable[[Query], None]
                 ) -> Query:
    """Apply one step to the query as it stands now (None: no such query)."""
    def decide(query: Query | None) -> Query:
        if query is None:
            raise LookupError(query_id)
        change(query)
        return query
    return ledger.update_stream(query_stream_id(query_id), decide)


def query_at(ledger: TrialLedger, query_id: str, as_of: str | None = None) -> Query | None:
    """The query as recorded by `as_of` (default: now); None if it did not exist then."""
    query: Query | None = ledger.stream_as_of(query_stream_id(query_id), as_of)
    return query


@dataclass(frozen=True)
class Seen:
    """A query as a reader sees it: folded as of the read, its site then, its times."""

    query: Query
    site_id: str
    recorded_at: dict[int, str]

    def age_days(self, now: datetime) -> int:
        return (now - parse_recorded_at(self.recorded_at[1])).days

    def view(self, now: datetime) -> dict[str, Any]:
        return {**self.query.view(self.recorded_at), "site_id": self.site_id,
                "age_days": self.age_days(now)}


class Folds:
    """Query streams and participant sites, each as folded at one version of its stream.

    What a stream holds up to a version never changes (the log is append-only), so a fold at
    a version is kept and reused by every later read that needs that version, whatever its
    as_of: a read costs two selects of stream versions and a fold of only the streams that
    moved since the last read. Bounded: past MAX entries everything is folded again."""

    MAX = 200_000

    def __init__(self) -> None:
        self._queries: dict[tuple[str, int], tuple[Query, dict[int, str]]] = {}
        self._sites: dict[tuple[str, int], str] = {}
        self._streams: dict[tuple[str, int | None], list[tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def query(self, ledger: TrialLedger, stream: str, version: int
              ) -> tuple[Query, dict[int, str]]:
        found = self._queries.get((stream, version))
        if found is None:
            query: Query = ledger.repository.get(stream, version=version)
            times = {row.version: row.recorded_at
                     for row in ledger.store.chain_for_stream(stream, up_to_version=version)}
            found = self._keep(self._queries, (stream, version), (query, times))
        return found

    def site(self, ledger: TrialLedger, participant_id: str, version: int) -> str:
        found = self._sites.get((participant_id, version))
        if found is None:
            participant: Participant = ledger.repository.get(participant_id, version=version)
            found = self._keep(self._sites, (participant_id, version), participant.site_id)
        return found

    def streams(self, ledger: TrialLedger, prefix: str, as_of: str | None
                ) -> list[tuple[str, int]]:
        """`ledger.store.streams(prefix, as_of)`; for the latest state, kept while the log's
        head is the same event (one indexed probe instead of a scan of stream versions)."""
        if as_of is not None:
            return ledger.store.streams(prefix, as_of=as_of)
        head = ledger.store.head()
        key = (prefix, None if head is None else head.leaf_index)
        found = self._streams.get(key)
        if found is None:
            found = ledger.store.streams(prefix)
            with self._lock:
                self._streams = {k: v for k, v in self._streams.items() if k[1] == key[1]}
                self._streams[key] = found
        return found

    def _keep(self, kept: dict[tuple[str, int], Any], key: tuple[str, int], value: Any) -> Any:
        with self._lock:
            if len(self._queries) + len(self._sites) >= self.MAX:
                self._queries.clear()
                self._sites.clear()
            kept[key] = value
        return value


def seen(ledger: TrialLedger, query: Query, as_of: str | None) -> Seen | None:
    """One query with its participant's site as of `as_of` (None: not enrolled then)."""
    try:
        site = ledger.participant(query.participant_id, as_of=as_of).site_id
    except UnknownParticipant:
        return None
    times = {row.version: row.recorded_at
             for row in ledger.store.chain_for_stream(query.id, up_to_version=query.version)}
    return Seen(query, site, times)


_FOLDS: weakref.WeakKeyDictionary[TrialLedger, Folds] = weakref.WeakKeyDictionary()
_FOLDS_LOCK = threading.Lock()


def folds(ledger: TrialLedger) -> Folds:
    """The ledger's folds (one per ledger, made on first use)."""
    with _FOLDS_LOCK:
        found = _FOLDS.get(ledger)
        if found is None:
            found = _FOLDS[ledger] = Folds()
    return found


def all_queries(ledger: TrialLedger, as_of: str | None) -> Iterable[Seen]:
    """Every query recorded by `as_of`, each as it stood then with its participant's site
    then, oldest stream id first (a query of a participant not enrolled then is left out)."""
    kept = folds(ledger)
    enrolled = dict(kept.streams(ledger, PARTICIPANT_TOPIC_PREFIX, as_of))
    for stream, version in kept.streams(ledger, QUERY_TOPIC_PREFIX, as_of):
        query, times = kept.query(ledger, stream, version)
        participant_version = enrolled.get(query.participant_id)
        if participant_version is None:
            continue
        yield Seen(query, kept.site(ledger, query.participant_id, participant_version), times)


def moment(as_of: str | None) -> datetime:
    return datetime.now(UTC) if as_of is None else parse_recorded_at(as_of)


def summary(queries: Iterable[Seen], now: datetime) -> list[dict[str, Any]]:
    """Per site: how many queries in each state, how the active ones (open, answered) age,
    and how many of them the system opened."""
    per_site: dict[str, list[Seen]] = defaultdict(list)
    for item in queries:
        per_site[item.site_id].append(item)
    out = []
    for site, items in sorted(per_site.items()):
        states = Counter(item.query.state for item in items)
        active = [item.age_days(now) for item in items if item.query.state in ("open",
                                                                                 "answered")]
        buckets = {f"{low}-{high}" if high is not None else f"{low}+":
                   sum(1 for age in active if age >= low and (high is None or age <= high))
                   for low, high in AGE_BUCKETS}
        out.append({"site_id": site, "total": len(items),
                    "states": {state: states.get(state, 0) for state in STATES},
                    "system_opened": sum(1 for item in items if item.query.system),
                    "active_ages_days": buckets,
                    "oldest_active_days": max(active, default=None),
                    "mean_active_days": round(sum(active) / len(active), 1) if active else None})
    return out
