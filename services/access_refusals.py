"""Refused attempts on a participant the caller may not see, answered as an unknown
participant (404) and noted for the audit-trail review (EMA 2023 §6.2.2: access attempts
outside a user's sites).

`NotVisible` is that 404 when it comes from a signed-in caller's request on one participant
(services/api/routes/participants.py): the participant is at another site, or there is none by
that id. It carries who tried what. The API's error handler passes it to `note_refusal`:

- a request that writes anyway (POST) records an `AccessRefused` event in `security:access`
  (domain/access_log.py), at most `REFUSALS_RECORDED` per window per process; the rest are
  counted into the next recorded one, as unknown-username failures are
  (services/authentication.py), so no caller can flood the ledger with refusals. An unknown id
  is recorded exactly as another site's participant is: the ledger's growth (visible to a
  writer as the next event's position) must not tell a caller which one it asked for;
- a read (GET, HEAD) records nothing, because a GET never writes: it is logged as a structured
  `access_refused` line (recorded=false), which the request log keeps.

Refused items of a batch (POST /api/v1/events/batch) are answered per item and not recorded,
whether the participant is unknown or at another site.

Recording is off unless the setting `record_access_refusals` is on (TRIAL_LEDGER_RECORD_ACCESS_
REFUSALS=true): with it on, a refused POST on one participant appends to the ledger, where
otherwise every refused request appends nothing.
"""

from __future__ import annotations

from domain.access_log import ACCESS_LOG_ID, AccessLog
from domain.errors import UnknownParticipant
from domain.ledger_event import Author
from infra.logging import get_logger
from infra.security.throttle import EventBudget, Limit
from services.application import Actor, TrialLedger

REFUSALS_RECORDED = Limit(60, 300)
"""At most 60 recorded refusals per 5 minutes per API process (the budget of unknown-username
failures): far above what a person mistyping an id makes, low enough that a script walking
participant ids adds one event every five seconds at most."""
READS = frozenset({"GET", "HEAD", "OPTIONS"})
log = get_logger("trial_ledger.access")


class NotVisible(UnknownParticipant):
    """The 404 of a participant `actor` may not see: at `site_id`, which they may not read, or
    (site_id None) not enrolled at all. The same answer and words either way."""

    def __init__(self, message: str, *, actor: Actor, participant_id: str,
                 site_id: str | None, action: str) -> None:
        super().__init__(message)
        self.actor = actor
        self.participant_id = participant_id
        self.site_id = site_id
        self.action = action


def hidden(answer: UnknownParticipant, actor: Actor, participant_id: str, site_id: str | None,
           action: str) -> NotVisible:
    """`answer` (the one 404 for a participant not visible) with who asked for what."""
    return NotVisible(answer.message, actor=actor, participant_id=participant_id,
                      site_id=site_id, action=action)


def note_refusal(ledger: TrialLedger, budget: EventBudget, refusal: NotVisible, *,
                 method: str, path: str, request_id: str | None, now: float,
                 record: bool = True) -> bool:
    """Log the refusal, and record it if `record` (the setting `record_access_refusals`), the
    request writes and the budget allows; whether it was recorded. A failure to record is
    logged, never raised: the caller's answer stays 404."""
    fields = {"user": refusal.actor.username, "role": refusal.actor.role,
              "participant_id": refusal.participant_id, "site_id": refusal.site_id,
              "action": refusal.action, "method": method, "path": path}
    if method.upper() in READS or not record:
        why = "a read never writes" if record else "recording is off"
        log.warning("access_refused", recorded=False, why=why, **fields)
        return False
    unrecorded = budget.take(REFUSALS_RECORDED, now)
    if unrecorded is None:
        log.warning("access_refused", recorded=False, why="over the recording budget", **fields)
        return False
    author = Author(refusal.actor.username, refusal.actor.role, request_id)

    def refused(current: AccessLog | None) -> AccessLog:
        access = current or AccessLog.open()
        access.refused(author, participant_id=refusal.participant_id, site_id=refusal.site_id,
                       action=refusal.action, method=method.upper(), path=path,
                       unrecorded_before=unrecorded)
        return access

    try:
        ledger.update_stream(ACCESS_LOG_ID, refused)
    except Exception as error:  # noqa: BLE001 - the refusal is answered whatever happens here
        log.error("access_refused_not_recorded", error_type=type(error).__name__, **fields)
        return False
    log.warning("access_refused", recorded=True, unrecorded_before=unrecorded, **fields)
    return True
