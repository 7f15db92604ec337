"""Refused attempts to reach a participant the caller may not see (at a site not among theirs,
or not enrolled at all), in a stream `security:access`.

The API answers both alike (404), so the caller learns nothing; the ledger keeps what happened
for the audit-trail review (services/audit_review.py). Only attempts made with a request that
writes anyway (a POST) are recorded, and only with the setting `record_access_refusals` on: a
GET never writes (tests/api/test_gets_never_write.py), so a refused read is a structured
`access_refused` log line instead. At most a budget of refusals is recorded per window
(services/access_refusals.py); each recorded one says how many went unrecorded before it.
"""

from __future__ import annotations

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.ledger_event import SYSTEM, Author, LedgerEvent

ACCESS_LOG_ID = "security:access"


class AccessLog(BaseAggregate[str]):
    """Refused attempts on participants the caller may not see."""

    class Event(LedgerEvent):
        def apply(self, aggregate: AccessLog) -> None:
            pass

    class AccessLogOpened(Event, CanInitAggregate[str]):
        """Opens the stream; recorded with its first refusal, in the same transaction."""

        originator_topic: str

    class AccessRefused(Event):
        """`site_id` (of every ledger event) is the participant's site, the site whose data was
        asked for, so a reviewer of that site sees the attempt; None: no such participant."""

        participant_id: str
        action: str
        method: str
        path: str
        unrecorded_before: int

    @classmethod
    def open(cls) -> AccessLog:
        return cls._create(cls.AccessLogOpened, id=ACCESS_LOG_ID,
                           **SYSTEM.fields("first refused access to a participant"))

    def refused(self, by: Author, *, participant_id: str, site_id: str | None, action: str,
                method: str, path: str, unrecorded_before: int = 0) -> None:
        self.trigger_event(self.AccessRefused, participant_id=participant_id, action=action,
                           method=method, path=path, unrecorded_before=unrecorded_before,
                           **by.fields(f"participant {participant_id} is "
                                       + ("not enrolled" if site_id is None else
                                          "at a site not among the caller's sites"),
                                       site_id=site_id))
