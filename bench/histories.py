"""The timetravel workload, also filled by bench.reads and bench.rebuild_parts: each
participant's history built on its `Participant` aggregate and saved with `ledger.save` in
interleaved rounds (bench/timetravel.py's docstring has the why of every step).

`history` is one participant's course as valid entries; `validate_shapes` runs every history
shape through the full rules (`Participant.record`) once; `Workload` holds every
participant's history and plans the save rounds; `populate` saves them through the real
recorder and hash chain.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bench import bodies
from bench.harness import SITES, Deadline, log_stamped
from bench.stores import Opened
from domain.events import CATALOGUE
from domain.participant import NewEntry, Participant

FIRST_ENROLLMENT = date(2021, 1, 4)
TODAY = date(2026, 1, 5)
"""`today` for the domain rules: after every generated date (histories of up to ~250 entries
end before 2024; longer ones are refused by `history`)."""


def _entry(body: dict[str, Any], rng: random.Random) -> NewEntry:
    """A new entry as the API makes one: the payload validated by its schema."""
    return NewEntry(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        type=body["type"],
        occurred_on=date.fromisoformat(body["occurred_on"]),
        data=CATALOGUE[body["type"]].payload.model_validate(body["data"]),
        reason=body.get("reason"),
        actor="bench.coordinator",
        role="site_coordinator",
    )


def history(shape: int, index: int, n_events: int, seed: int) -> list[NewEntry]:
    """One participant's course as `n_events` valid entries, enrollment first.

    Every 21-day cycle: a camrelizumab infusion, an apatinib period and a follow-up contact;
    a CT every second cycle (baseline before the first dose), TACE every sixth cycle; every
    fourth cycle a hypertension AE that is upgraded to grade 3, interrupts apatinib, resolves,
    and apatinib resumes; every 13th infusion is mis-keyed as 20 mg and corrected, every 17th
    contact is a duplicate that is voided and re-entered. Clinical values come from `shape`;
    event ids, the enrollment date's offset and the site from `index`.
    """
    values = random.Random(f"timetravel:{seed}:shape:{shape}")
    ids = random.Random(f"timetravel:{seed}:participant:{index}")
    start = FIRST_ENROLLMENT + timedelta(days=ids.randrange(0, 120))
    site = SITES[index % len(SITES)]
    out: list[NewEntry] = []

    def add(body: dict[str, Any]) -> NewEntry:
        new = _entry(body, ids)
        out.append(new)
        return new

    def iso(day: int) -> str:
        return (start + timedelta(days=day)).isoformat()

    add(bodies.enrollment(site_id=site, on=iso(0), consented_on=iso(-values.randrange(0, 7)),
                         sex=values.choice("FM"), birth_year=values.randrange(1940, 1990),
                         ecog=values.randrange(0, 2),
                         afp_ng_ml=round(values.uniform(5, 4000), 1)))
    recist = [round(values.uniform(25, 80), 1), round(values.uniform(12, 40), 1)]
    mrecist = [round(d * values.uniform(0.6, 0.95), 1) for d in recist]
    add(bodies.scan(iso(2), baseline=True, recist_mm=recist, mrecist_mm=mrecist))
    trend = values.uniform(0.80, 1.02)  # some shapes respond, some progress
    factor, cycle, ae = 1.0, 0, 0
    while len(out) < n_events:
        day = 7 + 21 * cycle
        cycle += 1
        mis_keyed = cycle % 13 == 5
        dose = add(bodies.camrelizumab(iso(day), cycle=cycle, dose_mg=20 if mis_keyed else 200))
        if cycle % 6 == 1:
            add(bodies.tace(iso(day + 1)))
        add(bodies.apatinib(iso(day + 1), end_on=iso(day + 20)))
        if cycle % 2 == 0:
            factor = max(0.05, factor * values.uniform(trend - 0.08, trend + 0.08))
            add(bodies.scan(iso(day + 2), baseline=False,
                           recist_mm=[round(d * factor, 1) for d in recist],
                           mrecist_mm=[round(d * factor * 0.9, 1) for d in mrecist]))
        if mis_keyed:
            add(bodies.correction(dose.event_id, iso(day),
                                 bodies.camrelizumab("", cycle=cycle)["data"],
                                 reason="dose mis-keyed: 20 mg entered for 200 mg"))
        if cycle % 4 == 3:
            ae += 1
            ae_id = f"AE{ae}"
            add(bodies.adverse_event(ae_id, iso(day + 4), grade=values.choice((1, 2))))
            add(bodies.ae_update(ae_id, iso(day + 8), grade=3))
            add({"type": "DoseModified", "occurred_on": iso(day + 8),
                 "data": {"drug": "apatinib", "action": "interrupted",
                          "reason": "grade 3 hypertension", "adverse_event_id": ae_id}})
            add(bodies.ae_resolved(ae_id, iso(day + 14)))
            add({"type": "DoseModified", "occurred_on": iso(day + 15),
                 "data": {"drug": "apatinib", "action": "resumed", "reason": "AE resolved"}})
        contact = add(bodies.follow_up(iso(day + 10)))
        if cycle % 17 == 9:
            add(bodies.void(contact.event_id, iso(day + 10),
                           reason="duplicate entry of the same contact"))
            add(bodies.follow_up(iso(day + 11)))
    if out[-1].occurred_on >= TODAY:
        raise SystemExit(f"--events-per {n_events} is too long a history for TODAY={TODAY}")
    return out[:n_events]


def append_validated(participant: Participant, entry: NewEntry) -> None:
    """`Participant.record` without its rule check, for an entry whose shape passed it (see
    the module docstring for why the rules' verdict carries over)."""
    participant.append(entry)


def _validate_shape(job: tuple[int, int, int]) -> tuple[int, float, str | None]:
    """Build one shape's history in full through Participant.enroll / record."""
    shape, n_events, seed = job
    entries = history(shape, -1 - shape, n_events, seed)
    started = time.perf_counter()
    try:
        participant = Participant.enroll(f"TEMPLATE-{shape}", entries[0], today=TODAY)
        for entry in entries[1:]:
            participant.record(entry, today=TODAY)
    except Exception as error:  # noqa: BLE001 - reported, and the run fails
        return shape, time.perf_counter() - started, f"{type(error).__name__}: {error}"
    return shape, time.perf_counter() - started, None


def validate_shapes(shapes: int, n_events: int, seed: int, workers: int, deadline: Deadline
                    ) -> dict[str, Any]:
    """Every shape through the full rules, in `workers` processes; raises if one fails."""
    import domain.participant_outcome  # noqa: F401 - imported with scipy before timing

    started = time.perf_counter()
    jobs = [(shape, n_events, seed) for shape in range(shapes)]
    if workers > 1 and shapes > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_validate_shape, jobs))
    else:
        results = [_validate_shape(job) for job in jobs]
    deadline.check("template validation")
    failed = [f"shape {shape}: {error}" for shape, _, error in results if error]
    if failed:
        raise SystemExit("a generated history broke the domain rules:\n" + "\n".join(failed))
    per = [seconds for _, seconds, _ in results]
    return {"shapes": shapes, "events_per_history": n_events, "workers": workers,
            "wall_s": time.perf_counter() - started,
            "record_s_per_history_mean": sum(per) / len(per),
            "record_ms_per_entry_mean": 1000 * sum(per) / len(per) / max(1, n_events - 1)}


@dataclass
class Workload:
    participants: int
    events_per: int
    seed: int
    shapes: int
    chunk: int
    ids: list[str] = field(default_factory=list)
    histories: list[list[NewEntry]] = field(default_factory=list)

    @classmethod
    def build(cls, participants: int, events_per: int, seed: int, shapes: int, chunk: int
              ) -> Workload:
        workload = cls(participants, events_per, seed, shapes, chunk)
        for i in range(participants):
            workload.ids.append(f"HCC-{SITES[i % len(SITES)][1:]}-{i + 1:05d}")
            workload.histories.append(history(i % shapes, i, events_per, seed))
        return workload

    def plan(self, participants: int) -> list[list[tuple[int, int, int]]]:
        """Rounds of (participant index, first entry, end): shuffled order each round, a
        random 50-150% of `chunk` entries each, until every history is saved."""
        rng = random.Random(f"timetravel:{self.seed}:plan:{participants}")
        done = [0] * participants
        rounds: list[list[tuple[int, int, int]]] = []
        low, high = max(1, self.chunk // 2), max(1, self.chunk * 3 // 2)
        while True:
            order = [i for i in range(participants) if done[i] < self.events_per]
            if not order:
                return rounds
            rng.shuffle(order)
            this = []
            for i in order:
                end = min(self.events_per, done[i] + rng.randint(low, high))
                this.append((i, done[i], end))
                done[i] = end
            rounds.append(this)


def populate(opened: Opened, workload: Workload, participants: int, validate_all: bool,
             deadline: Deadline, what: str) -> dict[str, Any]:
    """Build each participant on its aggregate and save it once per round (see docstring)."""
    ledger = opened.ledger
    aggregates: list[Participant | None] = [None] * participants
    build_s = save_s = 0.0
    saves = events = 0
    cpu0, started = time.process_time(), time.perf_counter()
    last_log = started
    rounds = workload.plan(participants)
    for number, this_round in enumerate(rounds, 1):
        for i, first, end in this_round:
            t0 = time.perf_counter()
            participant = aggregates[i]
            for entry in workload.histories[i][first:end]:
                if participant is None:
                    participant = Participant.enroll(workload.ids[i], entry, today=TODAY)
                elif validate_all:
                    participant.record(entry, today=TODAY)
                else:
                    append_validated(participant, entry)
            t1 = time.perf_counter()
            ledger.save(participant)
            t2 = time.perf_counter()
            aggregates[i] = participant
            build_s += t1 - t0
            save_s += t2 - t1
            saves += 1
            events += end - first
            if t2 - last_log > 15:
                last_log = t2
                log_stamped(f"  {what}: round {number}/{len(rounds)}, {events} events saved")
                deadline.check(f"population of {what}")
        deadline.check(f"population of {what}")
    wall = time.perf_counter() - started
    return {"participants": participants, "events": events, "rounds": len(rounds),
            "saves": saves, "events_per_save_mean": events / max(1, saves),
            "wall_s": wall, "cpu_s": time.process_time() - cpu0, "domain_build_s": build_s,
            "save_s": save_s,
            "save_events_per_s": events / save_s if save_s else None,
            "validate": "all" if validate_all else "templates"}
