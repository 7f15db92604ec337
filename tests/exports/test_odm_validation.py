"""The validator an importer and an inspector rely on: a file cut short is never valid."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from services.application import TrialLedger
from services.exports.odm import validate_odm, write_odm
from services.exports.scope import ExportScope


def test_a_complete_export_validates_and_any_cut_of_it_does_not(seeded: TrialLedger) -> None:
    out = io.BytesIO()
    write_odm(seeded, out, scope=ExportScope(created_at=datetime.now(UTC)))
    document = out.getvalue()
    assert validate_odm(document) == []
    for cut in (len(document) // 3, len(document) // 2, len(document) - 7):
        assert validate_odm(document[:cut]) != [], cut
