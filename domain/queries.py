"""Queries (discrepancy notes): one stream `query:<id>` per question asked about one event.

A monitor or a data manager opens a query on a participant's event, optionally on one field
of it; the site answers (citing the correction that answers it, when there is one); the
opener closes it or re-opens it; anyone allowed to raise queries may cancel it. An edit check
(domain/edit_checks.py) opens queries by itself and closes them when a later event resolves
them: those are the system's, with the check's id as their origin.

States follow CDISC ODM 2.0's Query element (Candidate and Open are start states; Closed and
Cancelled end states; its Resolved is Closed here, with the resolving event cited):

    candidate --issue--> open --answer--> answered --close--> closed
    open --close--> closed        answered --reopen--> open
    candidate | open | answered --cancel--> cancelled

Every step is an event of the stream, so who moved a query, when and why is in the hash
chain, and the query reads as of any recorded time. A step the state does not allow is a
RuleViolation (409) naming the state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.errors import RuleViolation
from domain.ledger_event import Author, LedgerEvent

QUERY_STREAM_PREFIX: Final = "query:"
MANUAL: Final = "manual"
"""The origin of a query a person opened; a system query's origin is its edit check's id."""
QueryState = Literal["candidate", "open", "answered", "closed", "cancelled"]
STATES: Final[tuple[QueryState, ...]] = ("candidate", "open", "answered", "closed", "cancelled")
ACTIVE_STATES: Final = frozenset({"candidate", "open", "answered"})
Command = Literal["issue", "answer", "close", "reopen", "cancel"]
TRANSITIONS: Final[dict[Command, dict[str, QueryState]]] = {
    "issue": {"candidate": "open"},
    "answer": {"open": "answered"},
    "close": {"open": "closed", "answered": "closed"},
    "reopen": {"answered": "open"},
    "cancel": {"candidate": "cancelled", "open": "cancelled", "answered": "cancelled"},
}
"""For each command, the states it may start from and the state it leads to."""
PAST: Final = {"issue": "issued", "answer": "answered", "close": "closed",
               "reopen": "re-opened", "cancel": "cancelled"}
_SYSTEM_NAMESPACE: Final = uuid.UUID("6f1d2a8e-8c55-4e0b-9a57-3c1f0b7e4d21")


def query_stream_id(query_id: str) -> str:
    return f"{QUERY_STREAM_PREFIX}{query_id}"


def system_query_id(check_id: str, target_event_id: str, trigger_event_id: str) -> str:
    """The id of the query an edit check opens on `target_event_id` when `trigger_event_id`
    (the event itself, or a later one) made it fail: the same inputs give the same id, so a
    re-run of the checks over the same events never opens a second query."""
    return str(uuid.uuid5(_SYSTEM_NAMESPACE, f"{check_id}/{target_event_id}/{trigger_event_id}"))


@dataclass(frozen=True)
class QueryStep:
    """One event of a query, as shown: what happened, by whom, with which text."""

    action: str
    state: QueryState
    version: int
    by: str
    role: str
    text: str | None
    cites: str | None
    """The event a step cites: the correction an answer names, or the event that resolved a
    system query."""

    def view(self, recorded_at: str | None) -> dict[str, Any]:
        return {"action": self.action, "state": self.state, "version": self.version,
                "by": self.by, "role": self.role, "text": self.text, "cites": self.cites,
                "recorded_at": recorded_at}


class Query(BaseAggregate[str]):
    """A query's life: opened, then moved only along TRANSITIONS."""

    if TYPE_CHECKING:  # set by the events' apply (not declared at run time: the library
        # would read declared attributes as arguments of the aggregate's __init__)
        participant_id: str
        target_event_id: str
        target_type: str
        field: str | None
        origin: str
        opened_by: str
        opened_role: str
        state: QueryState
        steps: list[QueryStep]

    class Event(LedgerEvent):
        text: str | None

        def apply(self, aggregate: Query) -> None:
            raise NotImplementedError  # every event below says what it does

        def step(self, aggregate: Query, action: str, state: QueryState,
                 cites: str | None = None) -> None:
            aggregate.state = state
            aggregate.steps = [*aggregate.steps, QueryStep(
                action, state, self.originator_version, self.actor, self.role, self.text,
                cites)]

    class QueryOpened(Event, CanInitAggregate[str]):
        """On `target_event_id` of `participant_id` (optionally its `field`); `origin`: manual
        or the edit check's id; `candidate`: not shown to the site until issued."""

        originator_topic: str
        participant_id: str
        target_event_id: str
        target_type: str
        field: str | None
        origin: str
        candidate: bool

        def apply(self, aggregate: Query) -> None:
            aggregate.participant_id = self.participant_id
            aggregate.target_event_id = self.target_event_id
            aggregate.target_type = self.target_type
            aggregate.field = self.field
            aggregate.origin = self.origin
            aggregate.opened_by = self.actor
            aggregate.opened_role = self.role
            aggregate.steps = []
            self.step(aggregate, "opened", "candidate" if self.candidate else "open")

    class QueryIssued(Event):
        def apply(self, aggregate: Query) -> None:
            self.step(aggregate, "issued", "open")

    class QueryAnswered(Event):
        """`correction_event_id`: the correction (or void) the site made to answer, if any."""

        correction_event_id: str | None

        def apply(self, aggregate: Query) -> None:
            self.step(aggregate, "answered", "answered", self.correction_event_id)

    class QueryClosed(Event):
        """`resolved_by`: the event that resolved a system query (the system closes it)."""

        resolved_by: str | None

        def apply(self, aggregate: Query) -> None:
            self.step(aggregate, "closed", "closed", self.resolved_by)

    class QueryReopened(Event):
        def apply(self, aggregate: Query) -> None:
            self.step(aggregate, "re-opened", "open")

    class QueryCancelled(Event):
        def apply(self, aggregate: Query) -> None:
            self.step(aggregate, "cancelled", "cancelled")

    @classmethod
    def open(cls, query_id: str, *, participant_id: str, site_id: str, target_event_id: str,
             target_type: str, field: str | None, text: str, origin: str, by: Author,
             candidate: bool = False) -> Query:
        return cls._create(cls.QueryOpened, id=query_stream_id(query_id),
                           participant_id=participant_id, target_event_id=target_event_id,
                           target_type=target_type, field=field, origin=origin,
                           candidate=candidate, text=text, **by.fields(None, site_id))

    @property
    def query_id(self) -> str:
        return self.id.removeprefix(QUERY_STREAM_PREFIX)

    @property
    def system(self) -> bool:
        return self.origin != MANUAL

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def _allowed(self, command: Command) -> None:
        if self.state in TRANSITIONS[command]:
            return
        possible = [name for name, moves in TRANSITIONS.items() if self.state in moves]
        then = (f"from {self.state} it can only be {' or '.join(PAST[c] for c in possible)}"
                if possible else f"{self.state} is final")
        raise RuleViolation("query_transition",
                            f"query {self.query_id} is {self.state}: it cannot be "
                            f"{PAST[command]} ({then})")

    def issue(self, by: Author, site_id: str) -> None:
        self._allowed("issue")
        self.trigger_event(self.QueryIssued, text=None, **by.fields(None, site_id))

    def answer(self, text: str, correction_event_id: str | None, by: Author, site_id: str
               ) -> None:
        self._allowed("answer")
        self.trigger_event(self.QueryAnswered, text=text,
                           correction_event_id=correction_event_id, **by.fields(None, site_id))

    def close(self, text: str | None, by: Author, site_id: str, resolved_by: str | None = None
              ) -> None:
        self._allowed("close")
        self.trigger_event(self.QueryClosed, text=text, resolved_by=resolved_by,
                           **by.fields(None, site_id))

    def reopen(self, text: str, by: Author, site_id: str) -> None:
        self._allowed("reopen")
        self.trigger_event(self.QueryReopened, text=text, **by.fields(None, site_id))

    def cancel(self, text: str | None, by: Author, site_id: str) -> None:
        self._allowed("cancel")
        self.trigger_event(self.QueryCancelled, text=text, **by.fields(None, site_id))

    def resolved_by(self, event_id: str) -> bool:
        """Whether a step of this query already cites `event_id` (the system reacts to each
        event once, even when the checks run over it again)."""
        return any(step.cites == event_id for step in self.steps)

    def view(self, recorded_at: dict[int, str]) -> dict[str, Any]:
        """The query as shown, with each step's recorded time (by stream version)."""
        return {"query_id": self.query_id, "participant_id": self.participant_id,
                "event_id": self.target_event_id, "event_type": self.target_type,
                "field": self.field, "origin": self.origin,
                "source": "system" if self.system else "manual", "state": self.state,
                "opened_by": self.opened_by, "opened_role": self.opened_role,
                "text": self.steps[0].text, "opened_at": recorded_at.get(1),
                "updated_at": recorded_at.get(self.version), "version": self.version,
                "history": [step.view(recorded_at.get(step.version)) for step in self.steps]}
