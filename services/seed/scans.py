"""The scan schedule and its reads: a baseline scan before treatment, then imaging every 6
weeks until progression under both criteria, each scan read under RECIST 1.1 and mRECIST.

The two criteria see progression on different scans for about a third of the participants who
progress (LEADING_CRITERION in services/seed/disease.py): viable tumour regrowing inside a
necrotic lesion is mRECIST PD scans before the whole lesion grows 20 %; new lung nodules under
10 mm or a new liver nodule without arterial enhancement are RECIST 1.1 PD before mRECIST
counts anything. Both reads of every scan pass the baseline and follow-up checks of
docs/rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from domain.protocol import IMAGING_INTERVAL_DAYS, IMAGING_WINDOW_DAYS, MRECIST, RECIST_11
from services.seed.baseline import Lesion, NonTarget, mm
from services.seed.disease import EQUIVOCAL_PRECURSOR_SHARE, LEADING_CRITERION, DiseaseCourse
from services.seed.kinetics import (
    STABLE_GUARD,
    Measure,
    TumourKinetics,
    baseline_measures,
    grown_target,
    grown_whole,
    regrown_viable,
    target_sums,
)
from services.seed.timeline import Timeline, TimelinePart
from services.seed.trial_calendar import DATA_CUTOFF, days

MISSED_SCAN_SHARE = 0.05
NOT_ASSESSED_TARGET_SHARE = 0.015
NOT_ASSESSED_NON_TARGET_SHARE = 0.02


@dataclass(frozen=True)
class Scan:
    on: date
    measures: list[Measure]
    non_target_status: dict[str, dict[str, str]]
    """criterion -> non-target id -> status."""
    new_lesions: list[dict[str, Any]]
    progression: bool


def _scan_data(scan: Scan, *, baseline: bool, modality: str, reader: str) -> dict[str, Any]:
    reads = {}
    for criterion in (RECIST_11, MRECIST):
        reads[criterion] = {
            "targets": [_target_json(m, criterion) for m in scan.measures],
            "non_targets": [
                {"lesion_id": lesion_id, "organ": organ, "status": status}
                for lesion_id, (organ, status) in _with_organs(scan, criterion).items()
            ],
            "new_lesions": [dict(lesion) for lesion in scan.new_lesions],
        }
    return {"modality": modality, "baseline": baseline, "reader": reader, "reads": reads}


def _with_organs(scan: Scan, criterion: str) -> dict[str, tuple[str, str]]:
    organs = scan.non_target_status["organs"]
    return {lesion_id: (organs[lesion_id], status)
            for lesion_id, status in scan.non_target_status[criterion].items()}


def _target_json(measure: Measure, criterion: str) -> dict[str, Any]:
    diameter, too_small, _ = measure.viable if criterion == MRECIST else measure.whole
    if not measure.assessed:
        diameter, too_small = None, False
    return {"lesion_id": measure.lesion.lesion_id, "organ": measure.lesion.organ,
            "nodal": measure.lesion.nodal, "diameter_mm": diameter, "too_small": too_small}


class ScanSchedule(TimelinePart):
    """Plans one participant's scans (`plan`) and records them (`emit`); `first_progressed_on`
    is the first scan with PD under either criterion, `progressed_on` the scan with PD under
    both (study treatment ends after it)."""

    def __init__(self, timeline: Timeline, course: DiseaseCourse, targets: list[Lesion],
                 non_targets: list[NonTarget], *, baseline_on: date, modality: str,
                 reader: str) -> None:
        super().__init__(timeline)
        self.course = course
        self.targets = targets
        self.non_targets = non_targets
        self.baseline_on = baseline_on
        self.modality = modality
        self.reader = reader
        self.scans: list[Scan] = []
        self.first_progressed_on: date | None = None
        """The first scan with PD under either criterion."""
        self.progressed_on: date | None = None
        """The scan with PD under both criteria: study treatment ends after it."""

    def _scan_until(self) -> date:
        """Protocol imaging stops at death, withdrawal or the cutoff."""
        ends = [d - days(1) for d in (self.died_on, self.withdrew_on) if d is not None]
        return min([DATA_CUTOFF, *ends])

    def plan(self) -> None:
        """Baseline before treatment, then every 6 weeks +- 7 days (~5 % missed) until PD under
        both criteria. When one criterion shows PD first (LEADING_CRITERION), imaging goes on
        and the other criterion's PD follows course.progression_lag_scans scans later."""
        rng, course = self.rng, self.course
        baseline = Scan(self.baseline_on, baseline_measures(self.targets),
                        self._non_target_status(all_absent=False), [], False)
        self.scans.append(baseline)
        kinetics = TumourKinetics(rng, course, self.targets)
        nadir = target_sums(baseline.measures)
        leading: str | None = None
        scans_since = 0
        for visit in range(1, 100):
            day = visit * IMAGING_INTERVAL_DAYS + rng.randint(-IMAGING_WINDOW_DAYS,
                                                               IMAGING_WINDOW_DAYS)
            on = self.start + days(day)
            if on > self._scan_until():
                return
            if rng.random() < MISSED_SCAN_SHARE:
                continue
            kinetics.advance(day)
            measures = kinetics.measures()
            if leading is not None:
                scans_since += 1
                if scans_since >= course.progression_lag_scans:
                    self.scans.append(self._lagging_progression_scan(on, leading, nadir))
                    self.progressed_on = on
                    return
                scan = self._between_progressions_scan(on, leading, measures, nadir)
            elif course.progression_day is not None and day >= course.progression_day:
                scan, leading = self._progression_scan(on, measures, nadir)
                self.first_progressed_on = on
                if leading is None:
                    self.scans.append(scan)
                    self.progressed_on = on
                    return
            else:
                sums = target_sums(measures)
                if sums[0] >= STABLE_GUARD * nadir[0] or sums[1] >= STABLE_GUARD * nadir[1]:
                    measures = [replace(m, assessed=True) for m in self.scans[-1].measures]
                scan = self._ordinary_scan(on, measures)
            self.scans.append(scan)
            if all(m.assessed for m in scan.measures):
                sums = target_sums(scan.measures)
                nadir = (min(nadir[0], sums[0]), min(nadir[1], sums[1]))

    def _non_target_status(self, *, all_absent: bool, progression: str | None = None
                           ) -> dict[str, dict[str, str]]:
        """RECIST 1.1 sees treated liver disease as present; mRECIST as absent once no
        viable tumour remains (all_absent); a non-target can be the one that progresses."""
        status: dict[str, dict[str, str]] = {
            "organs": {nt.lesion_id: nt.organ for nt in self.non_targets},
            RECIST_11: {}, MRECIST: {},
        }
        for nt in self.non_targets:
            for criterion in (RECIST_11, MRECIST):
                value = "present"
                if criterion == MRECIST and all_absent and nt.intrahepatic:
                    value = "absent"
                if nt.lesion_id == progression:
                    value = "progression"
                status[criterion][nt.lesion_id] = value
        return status

    def _ordinary_scan(self, on: date, measures: list[Measure]) -> Scan:
        rng = self.rng
        liver_clear = all(m.viable[2] == 0 for m in measures if m.lesion.intrahepatic)
        all_clear = liver_clear and all(m.viable[2] == 0 for m in measures)
        status = self._non_target_status(all_absent=all_clear)
        if self.non_targets and rng.random() < NOT_ASSESSED_NON_TARGET_SHARE:
            lesion_id = rng.choice(self.non_targets).lesion_id
            for criterion in (RECIST_11, MRECIST):
                status[criterion][lesion_id] = "not_assessed"
        if rng.random() < NOT_ASSESSED_TARGET_SHARE:
            index = rng.randrange(len(measures))
            measures = list(measures)
            measures[index] = replace(measures[index], assessed=False)
        return Scan(on, measures, status, [], False)

    def _progression_scan(self, on: date, measures: list[Measure], nadir: tuple[float, float]
                          ) -> tuple[Scan, str | None]:
        """The first scan that shows progression, by the course's mode, and the criterion that
        alone shows it (None: both criteria)."""
        rng, mode = self.rng, self.course.progression_mode
        leading = LEADING_CRITERION.get(mode)
        if leading == MRECIST:
            regrown = regrown_viable(measures, nadir, rng, whole_may_cross=False)
            if regrown is None:
                mode, leading = "target growth", None
            else:
                status = self._non_target_status(all_absent=False)
                return Scan(on, regrown, status, [], True), leading
        if leading == RECIST_11:
            measures = self._held_below_progression(measures, nadir)
            status = self._non_target_status(all_absent=False)
            return Scan(on, measures, status, [self._recist_only_lesion(mode)], True), leading
        new_lesions: list[dict[str, Any]] = []
        progressing = None
        if mode == "target growth":
            measures = grown_target(measures, nadir, rng)
        elif mode == "non-target progression":
            progressing = next((nt.lesion_id for nt in self.non_targets
                                if nt.organ == "portal vein"), self.non_targets[0].lesion_id)
        else:
            intrahepatic = mode == "new intrahepatic lesion"
            organ = "liver" if intrahepatic else rng.choice(("lung", "lung", "bone", "peritoneum"))
            size = mm(rng.uniform(11.0, 30.0) if intrahepatic else rng.uniform(10.0, 22.0))
            new_lesions.append({"lesion_id": "N1", "organ": organ, "diameter_mm": size,
                                "unequivocal": True, "typical_hcc": True})
            previous = self.scans[-1]
            if (len(self.scans) > 1 and not previous.new_lesions
                    and rng.random() < EQUIVOCAL_PRECURSOR_SHARE):
                seen = {"lesion_id": "N1", "organ": organ, "diameter_mm": mm(rng.uniform(5, 9)),
                        "unequivocal": False, "typical_hcc": False}
                self.scans[-1] = replace(previous, new_lesions=[seen])
        status = self._non_target_status(all_absent=False, progression=progressing)
        return Scan(on, measures, status, new_lesions, True), None

    def _recist_only_lesion(self, mode: str) -> dict[str, Any]:
        """A new lesion RECIST 1.1 counts and mRECIST does not: lung nodules under 10 mm, or a
        liver nodule without the typical arterial enhancement."""
        if mode == "small lung nodules":
            size = mm(self.rng.uniform(5.0, 8.5))
            return {"lesion_id": "N1", "organ": "lung", "diameter_mm": size,
                    "unequivocal": True, "typical_hcc": True}
        size = mm(self.rng.uniform(10.0, 18.0))
        return {"lesion_id": "N1", "organ": "liver", "diameter_mm": size,
                "unequivocal": True, "typical_hcc": False}

    def _held_below_progression(self, measures: list[Measure], nadir: tuple[float, float]
                                ) -> list[Measure]:
        """Targets as the kinetics give them, or as last read if they would near PD."""
        sums = target_sums(measures)
        if sums[0] >= STABLE_GUARD * nadir[0] or sums[1] >= STABLE_GUARD * nadir[1]:
            return [replace(m, assessed=True) for m in self.scans[-1].measures]
        return measures

    def _between_progressions_scan(self, on: date, leading: str, measures: list[Measure],
                                   nadir: tuple[float, float]) -> Scan:
        """A scan after the leading criterion's PD that the other criterion still reads as not
        progressing: regrown viable tumour persists inside an unchanged whole lesion, or the
        RECIST-only new lesion persists (a lung nodule stays under 10 mm)."""
        previous = self.scans[-1]
        status = self._non_target_status(all_absent=False)
        if leading == MRECIST:
            return Scan(on, [replace(m, assessed=True) for m in previous.measures], status, [],
                        True)
        lesion = dict(previous.new_lesions[0])
        grown = lesion["diameter_mm"] * self.rng.uniform(1.0, 1.12)
        lesion["diameter_mm"] = mm(min(9.5, grown) if lesion["organ"] == "lung" else grown)
        return Scan(on, self._held_below_progression(measures, nadir), status, [lesion], True)

    def _lagging_progression_scan(self, on: date, leading: str, nadir: tuple[float, float]
                                  ) -> Scan:
        """The scan where the other criterion shows PD too: the whole lesion around regrown
        viable tumour has grown (RECIST 1.1), or viable tumour regrows or a typical new liver
        lesion appears (mRECIST) while the RECIST-only lesion is still there."""
        rng = self.rng
        previous = self.scans[-1]
        status = self._non_target_status(all_absent=False)
        measures = [replace(m, assessed=True) for m in previous.measures]
        if leading == MRECIST:
            return Scan(on, grown_whole(measures, nadir[1], rng), status, [], True)
        carried = dict(previous.new_lesions[0])
        if carried["organ"] == "lung":
            carried["diameter_mm"] = mm(min(9.5, carried["diameter_mm"] * rng.uniform(1.0, 1.1)))
        if rng.random() < 0.5:
            regrown = regrown_viable(measures, nadir, rng, whole_may_cross=True)
            assert regrown is not None
            return Scan(on, regrown, status, [carried], True)
        typical = {"lesion_id": "N2", "organ": "liver", "diameter_mm": mm(rng.uniform(11.0, 25.0)),
                   "unequivocal": True, "typical_hcc": True}
        return Scan(on, measures, status, [carried, typical], True)

    def emit(self) -> None:
        for index, scan in enumerate(self.scans):
            data = _scan_data(scan, baseline=index == 0, modality=self.modality,
                              reader=self.reader)
            self.add("TumorAssessed", scan.on, data, entry_lag=self.rng.randint(1, 10))
