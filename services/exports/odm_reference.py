"""ReferenceData of the ODM export: the study record (ADR 0006: `DataCutoffDeclared`,
`DatabaseLocked`, `DatabaseUnlocked`, and the `StudyRecordOpened` that starts the stream), as
the ledger stood at the export's moment.

ODM 1.3.2 has no element for a study-wide declaration, so each event of the `study` stream is
one ItemGroupData of a reference-data item group (`IsReferenceData="Yes"`, generated from the
event's own fields), keyed by its event id, with the same AuditRecord and Annotation as a
participant's events; it was recorded at no site, so its location is the sponsor-level
Location `LOC.study`. These events concern every participant, so every export holds them.
"""

from __future__ import annotations

from typing import cast

from domain.ledger_event import LedgerEvent
from domain.study import STUDY_STREAM_ID
from projections.rows import audit_row
from services.application import TrialLedger
from services.exports.odm_admin import STUDY_LOCATION, References
from services.exports.odm_clinical import annotation, audit_record
from services.exports.odm_metadata import STUDY_OID
from services.exports.odm_model import Metadata
from services.exports.odm_xml import Element, root, sub, value_text


def reference_element(ledger: TrialLedger, as_of: str | None, metadata: Metadata,
                      refs: References) -> Element | None:
    """<ReferenceData> with the study record's events by `as_of` (None: it had none)."""
    study = ledger.study(as_of=as_of)
    if study is None:
        return None
    chain = {row.version: row for row in ledger.store.chain_for_stream(
        STUDY_STREAM_ID, up_to_version=study.version)}
    events = cast("list[LedgerEvent]", list(
        ledger.repository.event_store.get(STUDY_STREAM_ID, lte=study.version)))
    reference = root("ReferenceData", StudyOID=STUDY_OID, MetaDataVersionOID=metadata.oid)
    for event in events:
        row = audit_row(event, chain[event.originator_version], None)
        group = metadata.study_groups[row["type"]]
        element = sub(reference, "ItemGroupData", ItemGroupOID=group.oid,
                      ItemGroupRepeatKey=row["event_id"], TransactionType="Insert")
        audit_record(element, row, refs, row["site_id"] or STUDY_LOCATION)
        annotation(element, row, {})
        for item in group.items:
            value = getattr(event, item.field, None)
            if value is not None:
                sub(element, "ItemData", ItemOID=item.oid, TransactionType="Insert",
                    Value=value_text(value))
    return reference
