"""What a clinical write decides on, kept exact by version: the participant and the study.

Each process keeps the participants it has seen and the study record, each at a version. A
decision asks the store once for what came after those versions (one statement for both
streams), folds it onto copies, and decides; the group transaction then checks that neither
stream moved since (infra/ledger/group_write.py), so a stale cache can cost a retry but never
a wrong decision. A cached aggregate is never changed in place: readers may hold it.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy.engine import Engine

from domain.participant import Participant
from domain.study import STUDY_STREAM_ID, Study
from infra.held_connections import HeldConnections
from services.participant_snapshots import fold_events

CACHED_PARTICIPANTS = 5000

NEWER_SQL = (
    "SELECT originator_id, originator_version, topic, state FROM stored_events "
    "WHERE originator_id = {m} AND originator_version > {m} "
    "UNION ALL "
    "SELECT originator_id, originator_version, topic, state FROM stored_events "
    "WHERE originator_id = {m} AND originator_version > {m} "
    "ORDER BY 1, 2")
VERSION_SQL = "SELECT max(originator_version) FROM stored_events WHERE originator_id = {m}"
HELD = 4
"""Connections kept for these single statements (infra/held_connections.py)."""


@dataclass(frozen=True)
class DecisionState:
    """The participant (None: no events yet) and the study record (None: none yet) as the
    store held them at one moment, with the study's version for the group transaction."""

    participant_id: str
    participant: Any
    study: Study | None
    study_version: int


class DecisionCache:
    """Participants and the study record at their latest known versions (one process)."""

    def __init__(self, engine: Engine, mapper: Mapper[str]) -> None:
        self.engine = engine
        self.mapper = mapper
        self._participants: OrderedDict[str, Any] = OrderedDict()
        self._study: Study | None = None
        self._guard = threading.Lock()
        self.held = HeldConnections(engine, keep=HELD)
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        self._newer_sql = NEWER_SQL.format(m=mark)
        self._version_sql = VERSION_SQL.format(m=mark)

    def close(self) -> None:
        self.held.close()

    def stream_version(self, stream_id: str) -> int | None:
        """The stream's latest stored version (None: no such stream): one primary-key probe."""
        rows = self.held.fetch(self._version_sql, (stream_id,))
        version = rows[0][0] if rows else None
        return None if version is None else int(version)

    def state(self, participant_id: str) -> DecisionState:
        """The participant and the study as stored now: one round trip to the store."""
        with self._guard:
            participant = self._participants.get(participant_id)
            study = self._study
        pv = participant.version if participant is not None else 0
        sv = study.version if study is not None else 0
        rows = self.held.fetch(self._newer_sql, (participant_id, pv, STUDY_STREAM_ID, sv))
        mine = [row for row in rows if row[0] == participant_id]
        theirs = [row for row in rows if row[0] == STUDY_STREAM_ID]
        if mine and participant_id != STUDY_STREAM_ID:
            start = participant.trial_copy() if isinstance(participant, Participant) else None
            participant = fold_events(start, self._decoded(mine))
            self.put(participant)
        if theirs:
            study = fold_events(copy.deepcopy(study), self._decoded(theirs))
            with self._guard:
                if self._study is None or self._study.version < study.version:
                    self._study = study
        return DecisionState(participant_id, participant, study,
                             study.version if study is not None else 0)

    def put(self, participant: Any) -> None:
        """Keep `participant` as the newest known state of its stream (an older one never
        replaces a newer one)."""
        if participant is None:
            return
        with self._guard:
            known = self._participants.get(participant.id)
            if known is not None and known.version > participant.version:
                return
            self._participants[participant.id] = participant
            self._participants.move_to_end(participant.id)
            while len(self._participants) > CACHED_PARTICIPANTS:
                self._participants.popitem(last=False)

    def _decoded(self, rows: list[Any]) -> list[Any]:
        return [self.mapper.to_domain_event(StoredEvent(
            str(row[0]), int(row[1]), str(row[2]), _as_bytes(row[3]))) for row in rows]


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return str(value).encode()
