"""The same-run comparison for bench.ingest: the bare `eventsourcing` library on a fresh store
of the same kind, saving the same events from the same number of threads, in this process.

The stock `Application` with the library's own recorder (`eventsourcing.sqlite` or
`eventsourcing.postgres`, with the server's lock timeout and, on PostgreSQL, its pool
settings), one plain aggregate per participant whose events carry the fields ours store,
and one event per `save()`, i.e. one transaction each, as the single-event route commits.
bench/README.md says what the comparison does and does not mean.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.application import Application
from eventsourcing.domain import (
    BaseAggregate,
    CanCreateTimestamp,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)

from bench.harness import COORDINATOR, BenchFailure, Deadline, loadavg_1m, log
from bench.stores import fresh_store
from bench.workers import Sample, run_workers

if TYPE_CHECKING:
    from bench.ingest_workload import Workload


class PeerEvent(CanMutateAggregate[str], CanCreateTimestamp, metaclass=MetaDomainEvent):
    """A plain library event with the same fields our stored events carry."""

    originator_id: str
    originator_version: int
    timestamp: datetime
    event_id: str
    occurred_on: str
    data: dict[str, Any]
    reason: str | None
    actor: str
    role: str
    site_id: str | None
    client_request_id: str | None


class PeerParticipant(BaseAggregate[str]):
    """One aggregate per participant, string ids; no rules, no validation."""

    class Event(PeerEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.last_event_id = self.event_id

    class ParticipantEnrolled(Event, CanInitAggregate[str]):
        originator_topic: str

        def apply(self, aggregate: Any) -> None:
            aggregate.site_id = self.site_id
            aggregate.last_event_id = self.event_id

    class FollowUpContact(Event):
        pass

    class DoseAdministered(Event):
        pass

    site_id: str | None

    @classmethod
    def enroll(cls, participant_id: str, **fields: Any) -> PeerParticipant:
        return cls._create(cls.ParticipantEnrolled, id=participant_id, **fields)

    def record(self, type_name: str, **fields: Any) -> None:
        self.trigger_event(getattr(self, type_name), site_id=self.site_id, **fields)


def _peer_fields(body: dict[str, Any], job: int) -> dict[str, Any]:
    import uuid

    return {"event_id": str(uuid.uuid4()), "occurred_on": body["occurred_on"],
            "data": body["data"], "reason": None, "actor": COORDINATOR,
            "role": "site_coordinator", "client_request_id": f"peer-{job}"}


def bench_peer(kind: str, args: argparse.Namespace, workload: Workload, workdir: Path,
               deadline: Deadline) -> dict[str, Any]:
    deadline.check("starting the peer")
    with fresh_store(kind, args.pg_url, "peer", workdir) as store:
        env = {"CREATE_TABLE": "y", "ORIGINATOR_ID_TYPE": "text"}
        if kind == "sqlite":
            env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": store["sqlite_path"], "SQLITE_LOCK_TIMEOUT": "10"}
        else:
            from sqlalchemy.engine import make_url

            url = make_url(store["url"])
            # The same pool settings and lock timeout as the server's defaults
            # (infra.db.DatabaseURL.eventsourcing_env, infra.settings).
            env |= {"PERSISTENCE_MODULE": "eventsourcing.postgres",
                    "POSTGRES_DBNAME": store["dbname"], "POSTGRES_HOST": url.host or "127.0.0.1",
                    "POSTGRES_PORT": str(url.port or 5432),
                    "POSTGRES_USER": url.username or "postgres",
                    "POSTGRES_PASSWORD": url.password or "", "POSTGRES_LOCK_TIMEOUT": "10",
                    "POSTGRES_POOL_SIZE": "8", "POSTGRES_MAX_OVERFLOW": "8",
                    "POSTGRES_PRE_PING": "y"}
        app: Application[str] = Application(env=env)  # the stock recorder
        try:
            aggregates: dict[str, PeerParticipant] = {}
            locks = {pid: threading.Lock() for pid in workload.participants}

            log(f"[{kind}] peer: enrolling {len(workload.participants)} aggregates (untimed)")

            def make_enroller(_: int) -> Callable[[int], Sample]:
                def enroll(job: int) -> Sample:
                    pid = workload.participants[job]
                    body = workload.enrollment(job)
                    started = time.perf_counter()
                    try:
                        aggregate = PeerParticipant.enroll(
                            pid, site_id=body["data"]["site_id"], **_peer_fields(body, job))
                        app.save(aggregate)
                    except Exception as error:  # noqa: BLE001 - counted and reported
                        return Sample(0, time.perf_counter() - started, repr(error)[:300])
                    aggregates[pid] = aggregate
                    return Sample(201, time.perf_counter() - started)
                return enroll

            enrolled = run_workers(len(workload.participants), args.clients, deadline,
                                   make_enroller)
            if enrolled.errors:
                raise BenchFailure(f"peer enrollment failed: {enrolled.as_dict()}")
            deadline.check("enrolling peer aggregates")

            log(f"[{kind}] peer: saving {len(workload.events)} events from {args.clients} "
                 "threads (timed)")

            def make_saver(_: int) -> Callable[[int], Sample]:
                def save(job: int) -> Sample:
                    pid, body = workload.events[job]
                    started = time.perf_counter()
                    try:
                        with locks[pid]:
                            aggregate = aggregates[pid]
                            aggregate.record(body["type"], **_peer_fields(body, job))
                            app.save(aggregate)  # one event, one transaction
                    except Exception as error:  # noqa: BLE001 - counted and reported
                        return Sample(0, time.perf_counter() - started, repr(error)[:300])
                    return Sample(201, time.perf_counter() - started)
                return save

            timed_load = loadavg_1m()
            cpu_before = time.process_time()
            timed = run_workers(len(workload.events), args.clients, deadline, make_saver)
            if timed.ok:  # the library's own CPU per event (this process: no HTTP client)
                timed.extra["server_cpu_ms_per_event"] = round(
                    (time.process_time() - cpu_before) * 1000 / timed.ok, 2)
            timed.extra["loadavg_1m_before"] = timed_load
            stored = _count_notifications(app, len(workload.participants) + len(workload.events))
            timed.extra["stored_events"] = stored
            timed.extra["expected_events"] = enrolled.ok + timed.ok
            return timed.as_dict()
        finally:
            app.close()


def _count_notifications(app: Any, expected: int) -> int:
    total, start = 0, None
    for _ in range(expected // 1000 + 5):  # bounded: pages of 1000
        page = app.recorder.select_notifications(start=start, limit=1000)
        if not page:
            break
        total += len(page)
        start = page[-1].id + 1
    return total
