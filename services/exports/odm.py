"""The CDISC ODM 1.3.2 archival export: one transactional ODM document holding the study
metadata generated from the event catalogue, the users, sites and signature meanings, the
study record (cutoffs, database lock), and every event of the participants in scope with its
audit record (docs/exports/odm.md).

The document is written as a stream. AdminData must precede ClinicalData, yet which users,
sites and meanings it declares is only known once every event has been read; so the clinical
data goes first to an anonymous temporary file, one participant at a time, then the header,
the Study and the AdminData are written to `out` and the clinical data is copied after them
in chunks. Neither the document nor more than one participant's elements are ever in memory;
the temporary file holds about as many bytes as the clinical part of the output.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from functools import cache
from typing import BinaryIO

from lxml import etree

from infra.ledger.chain import format_recorded_at
from services.application import TrialLedger
from services.exports.odm_admin import References, admin_element
from services.exports.odm_clinical import write_clinical_data
from services.exports.odm_metadata import SOURCE_SYSTEM, study_element
from services.exports.odm_model import study_metadata
from services.exports.odm_reference import reference_element
from services.exports.odm_xml import NS, NSMAP, q, xml_text
from services.exports.scope import ExportScope

__all__ = ["covered_participants", "odm_header", "odm_schema", "read_moment", "validate_odm",
           "write_odm"]

ODM_VERSION = "1.3.2"
COPY_CHUNK = 1 << 16


def write_odm(ledger: TrialLedger, out: BinaryIO, *, scope: ExportScope,
              progress: Callable[[int, int], None] | None = None) -> None:
    """Write the ODM 1.3.2 archival document of `scope` to `out` (UTF-8).

    `progress(done, total)` is called with 0 before the first participant and after each
    one. A `scope.participant_id` not enrolled by `scope.as_of` raises UnknownParticipant
    before anything is written."""
    as_of = read_moment(ledger, scope)
    subjects = covered_participants(ledger, scope, as_of)
    metadata = study_metadata()
    refs = References()
    with tempfile.TemporaryFile(prefix="odm-clinical-") as spool:
        write_clinical_data(ledger, spool, subjects=subjects, as_of=as_of, metadata=metadata,
                            refs=refs, progress=progress)
        spool.seek(0)
        reference = reference_element(ledger, as_of, metadata, refs)
        with etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(q("ODM"), _header(scope), nsmap=NSMAP):
                xf.write(study_element(metadata))
                xf.write(admin_element(ledger, refs, as_of, metadata.oid))
                if reference is not None:
                    xf.write(reference)
                xf.flush()
                shutil.copyfileobj(spool, out, COPY_CHUNK)


def read_moment(ledger: TrialLedger, scope: ExportScope) -> str | None:
    """The recorded time every read of the export is made at: `scope.as_of`, else the last
    event recorded when the export starts, so that a long export of a ledger still being
    written is one consistent cut of it (None: the ledger is empty)."""
    if scope.as_of is not None:
        return format_recorded_at(scope.as_of)
    head = ledger.store.head()
    return None if head is None else head.recorded_at


def covered_participants(ledger: TrialLedger, scope: ExportScope, as_of: str | None
                         ) -> list[str]:
    """The participants the export holds, in participant id order: those enrolled by `as_of`
    (see read_moment), narrowed to the scope's participant and to its sites (the site each
    stood at then)."""
    if scope.participant_id is not None:
        participant = ledger.participant(scope.participant_id, as_of=as_of)
        return [participant.id] if scope.covers(participant.id, participant.site_id) else []
    ids = [participant_id for participant_id, _ in ledger.participant_ids(as_of=as_of)]
    if scope.sites is None:
        return ids
    return [participant_id for participant_id in ids
            if scope.covers(participant_id, ledger.participant(participant_id,
                                                               as_of=as_of).site_id)]


def _header(scope: ExportScope) -> dict[str, str]:
    """The ODM element's attributes."""
    if scope.participant_id is not None:
        granularity, covers = "SingleSubject", f"participant {scope.participant_id}"
    elif scope.sites is not None:
        granularity = "SingleSite" if len(scope.sites) == 1 else ""
        covers = "site" + ("s " if len(scope.sites) != 1 else " ") + ", ".join(scope.sites)
    else:
        granularity, covers = "All", "the whole study"
    moment = format_recorded_at(scope.moment)
    header = {
        "Description": f"trial-ledger archival export of {covers}, as recorded by {moment}",
        "FileType": "Transactional",
        "Archival": "Yes",
        "FileOID": f"ODM.{SOURCE_SYSTEM}.{uuid.uuid4()}",
        "CreationDateTime": format_recorded_at(scope.created_at),
        "AsOfDateTime": moment,
        "ODMVersion": ODM_VERSION,
        "Originator": SOURCE_SYSTEM,
        "SourceSystem": SOURCE_SYSTEM,
        "SourceSystemVersion": _version(),
    }
    if granularity:
        header["Granularity"] = granularity
    return {name: xml_text(value) for name, value in header.items()}


def _version() -> str:
    try:
        return importlib.metadata.version("trial-ledger")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@cache
def odm_schema() -> etree.XMLSchema:
    """The official ODM 1.3.2 XML Schema, as shipped in the odmlib package (its imports, the
    XML and XML-DSig schemas, are read from beside it: no network)."""
    xsd = importlib.resources.files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
    with importlib.resources.as_file(xsd) as path:
        parser = etree.XMLParser(no_network=True)
        return etree.XMLSchema(etree.parse(str(path), parser))


def _source(document: str | os.PathLike[str] | bytes) -> str | io.BytesIO:
    return io.BytesIO(document) if isinstance(document, bytes) else os.fspath(document)


def validate_odm(document: str | os.PathLike[str] | bytes) -> list[str]:
    """The ODM 1.3.2 schema errors of a document (a path, or its bytes); empty when valid.

    Validates while parsing and drops each element once read, so a file of any size is
    checked in bounded memory."""
    depth, closed = 0, False
    etree.clear_error_log()  # the log is per thread: drop entries of earlier documents
    try:
        for event, element in etree.iterparse(_source(document), events=("start", "end"),
                                              schema=odm_schema(), no_network=True,
                                              resolve_entities=False, huge_tree=True):
            if event == "start":
                depth += 1
                continue
            depth -= 1
            closed = depth == 0
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as error:
        # Errors only: loading a schema can leave warnings (e.g. "skipping import") there.
        messages = [entry.message for entry in error.error_log
                    if entry.level >= etree.ErrorLevels.ERROR]
        return messages or [str(error)]
    # A document cut short can end the parse without an error: its root never closed.
    return [] if closed else ["the document ends before its root element closes (truncated?)"]


def validate_vendor_odm(document: str | os.PathLike[str] | bytes) -> list[str]:
    """The ODM 1.3.2 schema errors of another system's document, its vendor extensions set
    aside: ODM lets a vendor add elements and attributes in its own namespace (Rave's
    `mdsol:`), described by the vendor's extended schema, not the official one. Elements and
    attributes outside the ODM, XML and XML-DSig namespaces are removed before the official
    schema checks the rest. The document is held whole (another system's files are)."""
    keep = {NS, "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/09/xmldsig#"}
    parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)
    try:
        tree = etree.parse(_source(document), parser)
    except etree.XMLSyntaxError as error:
        return [str(error)]
    for element in list(tree.iter()):
        if not isinstance(element.tag, str):
            continue
        if etree.QName(element).namespace not in keep:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            continue
        for name in [n for n in element.attrib if etree.QName(n).namespace not in
                     (None, *keep)]:
            del element.attrib[name]
    schema = odm_schema()
    if schema.validate(tree):
        return []
    return [entry.message for entry in schema.error_log
            if entry.level >= etree.ErrorLevels.ERROR] or ["not valid"]


def odm_header(document: str | os.PathLike[str] | bytes) -> dict[str, str]:
    """The ODM element's attributes (FileOID, CreationDateTime, AsOfDateTime, ...), read
    from the start of the document without parsing the rest."""
    for _, element in etree.iterparse(_source(document), events=("start",),
                                      no_network=True, resolve_entities=False):
        return {str(name): str(value) for name, value in element.attrib.items()}
    return {}
