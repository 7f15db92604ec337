"""The ODM export is written as a stream: each participant's SubjectData is out (flushed)
before the next participant is read, progress is reported per participant, and the memory
the writer holds does not grow with the number of participants."""

from __future__ import annotations

import io
import re
import tracemalloc
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

from services.application import TrialLedger
from services.exports.odm import write_odm
from services.exports.odm_admin import References
from services.exports.odm_clinical import write_clinical_data
from services.exports.odm_model import study_metadata
from services.exports.scope import ExportScope


class Counting(io.RawIOBase):
    """A sink that keeps only how many bytes it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def test_each_participant_is_written_before_the_next_is_read(seeded: TrialLedger) -> None:
    ids = [pid for pid, _ in seeded.participant_ids()]
    sink = io.BytesIO()
    seen: list[tuple[int, int, bytes]] = []
    write_clinical_data(seeded, sink, subjects=ids, as_of=None, metadata=study_metadata(),
                        refs=References(),
                        progress=lambda done, total: seen.append((done, total, sink.getvalue())))

    assert [(done, total) for done, total, _ in seen] == [(n, len(ids))
                                                          for n in range(len(ids) + 1)]
    for done, _, written in seen[1:]:
        keys = re.findall(rb'SubjectKey="([^"]+)"', written)
        assert keys == [pid.encode() for pid in ids[:done]]
        assert written.endswith(b"</SubjectData>")


def test_progress_is_reported_once_per_participant(seeded: TrialLedger) -> None:
    calls: list[tuple[int, int]] = []
    write_odm(seeded, cast(BinaryIO, Counting()),
              scope=ExportScope(datetime.now(UTC), sites=("S01",)),
              progress=lambda done, total: calls.append((done, total)))
    at_s01 = [pid for pid, _ in seeded.participant_ids()
              if seeded.participant(pid).site_id == "S01"]
    assert calls == [(n, len(at_s01)) for n in range(len(at_s01) + 1)]


def _peak(ledger: TrialLedger, **scope: Any) -> tuple[int, int]:
    """(peak traced memory, bytes written) of one export."""
    sink = Counting()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        write_odm(ledger, cast(BinaryIO, sink), scope=ExportScope(datetime.now(UTC), **scope))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, sink.size


def test_memory_does_not_grow_with_the_number_of_participants(seeded: TrialLedger) -> None:
    ids = [pid for pid, _ in seeded.participant_ids()]
    largest = max(ids, key=lambda pid: len(seeded.participant_events(pid)))
    _peak(seeded)  # the first export fills the caches every export shares (metadata, schema)

    one_peak, one_size = _peak(seeded, participant_id=largest)
    all_peak, all_size = _peak(seeded)

    assert all_size > 5 * one_size
    assert all_peak < 1.5 * one_peak, (all_peak, one_peak)
