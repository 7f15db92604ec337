"""The study report as a PDF (reportlab platypus, A4), with its electronic signature.

Every figure is printed as the API gave it (a rate as the fraction the API answered, with its
percentage), so the signed document and `GET /api/v1/endpoints` can be compared number for
number. The plots are embedded as vector drawings (svglib), not pictures of them. The last
page is the signature manifestation of 21 CFR 11.50: the signer's printed name, username,
the date and time of signing (UTC) and its meaning.

Every text that comes from a person (a name, a meaning, an adverse-event term) is escaped
before it reaches a Paragraph, which reads its text as markup: `<b>&` is printed, not obeyed.
The same content and signature give the same bytes (reportlab's `invariant` mode: no
creation time, no random document id), so a report can be rendered again and hashed to
prove it is the one recorded.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)
from svglib.svglib import svg2rlg

from domain.protocol import CRITERIA, TRIAL_TITLE
from services.reports.content import StudyReportContent
from services.reports.typeset import (
    FRAME_WIDTH,
    MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    grid,
    interval,
    number,
    pairs,
    plain,
    rate_text,
    report_fonts,
    report_styles,
)


@dataclass(frozen=True)
class SignatureManifest:
    """The manifestation of an electronic signature (21 CFR 11.50(a)): who signed (printed
    name and username), when (an aware time, shown in UTC) and what the signature means."""

    full_name: str
    username: str
    signed_at: datetime
    meaning: str

    def __post_init__(self) -> None:
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at must carry its time zone (it is shown in UTC)")

    @property
    def signed_at_text(self) -> str:
        """e.g. 2026-12-01 10:32:44 UTC"""
        return self.signed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def record(self) -> dict[str, str]:
        """The signature as the ledger records it with the report's hash (JSON values)."""
        return {"full_name": self.full_name, "username": self.username,
                "signed_at": self.signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "meaning": self.meaning}


def report_header(content: StudyReportContent) -> str:
    """The line at the top of every page."""
    return (f"trial-ledger study report \u2014 cutoff {content.cutoff.isoformat()}, "
            f"as of {as_of_text(content)}")


def as_of_text(content: StudyReportContent) -> str:
    return content.as_of or f"latest (read at {content.generated_at})"


def render_study_report(content: StudyReportContent, signature: SignatureManifest) -> bytes:
    """The signed study report as PDF bytes; equal inputs give equal bytes."""
    regular, bold = report_fonts()
    styles = report_styles(regular, bold)
    header = report_header(content)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 6 * mm,
        bottomMargin=MARGIN, title="trial-ledger study report", author="trial-ledger",
        subject=header, creator="trial-ledger", invariant=1)
    story: list[Flowable] = [
        *_title_page(content, styles), PageBreak(),
        *_flow(content, styles),
        *_endpoints(content, styles),
        *_figures(content, styles, doc.height),
        *_safety(content, styles),
        *_checkpoint(content, styles),
        PageBreak(),
        *_signature_page(content, signature, styles),
    ]
    doc.build(story, canvasmaker=_numbered_canvas(header, regular))
    return out.getvalue()


# -- sections -------------------------------------------------------------------------------


def _criteria(content: StudyReportContent) -> list[str]:
    known = [criterion for criterion in CRITERIA if criterion in content.endpoints]
    return known + sorted(set(content.endpoints) - set(known))


def _sites_text(content: StudyReportContent) -> str:
    sites = content.sites
    return "all sites" if sites is None else ", ".join(sites) or "none"


def _title_page(content: StudyReportContent, styles: dict[str, ParagraphStyle]
                ) -> list[Flowable]:
    checkpoint = content.checkpoint
    rows: list[tuple[str, object]] = [
        ("Clinical cutoff", content.cutoff.isoformat()),
        ("As of (recorded time)", as_of_text(content)),
        ("Generated at", content.generated_at),
        ("Sites covered", _sites_text(content)),
        ("Response criteria", ", ".join(_criteria(content))),
        ("Ledger checkpoint", "none issued" if checkpoint is None
         else f"{checkpoint.get('tree_size')} events"),
    ]
    return [
        Spacer(1, 40 * mm),
        plain("Study report", styles["title"]),
        plain(TRIAL_TITLE, styles["subtitle"]),
        pairs(rows, styles),
        Spacer(1, 12 * mm),
        plain("Every estimate in this report is the answer of the trial ledger's API for the "
           "cutoff and recorded time above, printed as it was given. The report is signed "
           "electronically (21 CFR Part 11): the signature manifestation is on the last page, "
           "and the SHA-256 of this file is recorded in the ledger when it is issued "
           "(trial-ledger export verify FILE finds that record).", styles["note"]),
    ]


def _flow(content: StudyReportContent, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    rows: list[list[object]] = [["Participants", "Number"]]
    rows += [[step.replace("_", " ").capitalize(), count] for step, count in content.flow.items()]
    return [plain("Participant flow", styles["h1"]),
            grid(rows, styles, [60 * mm, 30 * mm])]


def _endpoints(content: StudyReportContent, styles: dict[str, ParagraphStyle]
               ) -> list[Flowable]:
    parts: list[Flowable] = [plain("Efficacy endpoints", styles["h1"])]
    for criterion in _criteria(content):
        parts += _criterion(criterion, content.endpoints[criterion], styles)
    return parts


def _criterion(criterion: str, body: dict[str, Any], styles: dict[str, ParagraphStyle]
               ) -> list[Flowable]:
    scope = body.get("scope") or {}
    parts: list[Flowable] = [plain(criterion, styles["h2"])]
    if scope.get("summary"):
        parts.append(plain(scope["summary"], styles["note"]))
    if body.get("note"):
        parts.append(plain(body["note"], styles["note"]))
    population = body["population"]
    parts.append(grid([["Enrolled", "Treated", "Evaluable"],
                         [population["enrolled"], population["treated"],
                          population["evaluable"]]], styles, [30 * mm] * 3))
    parts.append(Spacer(1, 3 * mm))
    best = body["best_overall_response"]
    parts.append(grid([["Best overall response", "CR", "PR", "SD", "PD", "NE"],
                         ["Participants", *(best[key] for key in ("CR", "PR", "SD", "PD", "NE"))]],
                        styles, [45 * mm] + [18 * mm] * 5))
    parts.append(Spacer(1, 3 * mm))
    orr, dcr = body["orr"], body["dcr"]
    parts.append(grid([
        ["Endpoint", "Count / n", "Rate (fraction, %)", "95% CI (Clopper-Pearson)"],
        ["ORR (CR + PR)", f"{orr['responders']}/{orr['n']}", rate_text(orr["rate"]), interval(orr["ci95"])],
        ["DCR (CR + PR + SD)", f"{dcr['count']}/{dcr['n']}", rate_text(dcr["rate"]),
         interval(dcr["ci95"])],
    ], styles, [40 * mm, 25 * mm, 40 * mm, 55 * mm]))
    parts.append(Spacer(1, 3 * mm))
    rows: list[list[object]] = [["Endpoint", "n", "Events", "Censored", "Median (months)",
                                 "95% CI", "6-month rate [95% CI]", "12-month rate [95% CI]"]]
    for name, key in (("DOR", "dor"), ("PFS", "pfs"), ("OS", "os")):
        survival = body[key]
        median = ("not reached" if survival["median_months"] is None
                  else number(survival["median_months"]))
        rows.append([name, survival["n"], survival["events"], survival["censored"], median,
                     interval(survival["ci95"]), *(_landmark(survival.get(rate))
                                              for rate in ("rate_6m", "rate_12m"))])
    parts.append(grid(rows, styles, [21 * mm, 9 * mm, 16 * mm, 22 * mm, 20 * mm, 24 * mm,
                                       29 * mm, 29 * mm]))
    parts.append(plain("Medians in months (days / 30.4375), Kaplan-Meier; NE: not estimable.",
                    styles["note"]))
    return parts


def _landmark(landmark: dict[str, Any] | None) -> str:
    if landmark is None:
        return "n/a"
    return f"{number(landmark['estimate'])} {interval(landmark['ci95'])}"


def _figures(content: StudyReportContent, styles: dict[str, ParagraphStyle],
             frame_height: float) -> list[Flowable]:
    if not content.plots:
        return []
    parts: list[Flowable] = [PageBreak(), plain("Figures", styles["h1"])]
    for title, svg in content.plots.items():
        drawing = _drawing(title, svg, FRAME_WIDTH, frame_height * 0.6)
        parts.append(KeepTogether([plain(title, styles["h2"]), drawing, Spacer(1, 4 * mm)]))
    return parts


def _drawing(title: str, svg: str, width: float, height: float) -> Drawing:
    """The SVG as a vector drawing, scaled down to fit; ValueError if it is not SVG. Read
    from memory, so svglib refuses every external reference."""
    drawing = svg2rlg(io.BytesIO(svg.encode("utf-8")))
    if drawing is None or not drawing.width or not drawing.height:
        raise ValueError(f"the plot {title!r} is not a readable SVG document")
    scale = min(1.0, width / drawing.width, height / drawing.height)
    drawing.scale(scale, scale)
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    drawing.hAlign = "LEFT"
    return drawing


def _safety(content: StudyReportContent, styles: dict[str, ParagraphStyle]
            ) -> list[Flowable]:
    safety = content.safety
    parts: list[Flowable] = [PageBreak(), plain("Safety", styles["h1"])]
    scope = safety.get("scope") or {}
    if scope.get("summary"):
        parts.append(plain(scope["summary"], styles["note"]))
    parts.append(plain(f"Treated participants: {safety['treated']}. Treatment-emergent adverse "
                    "events (CTCAE v5), each participant counted once per term at the worst "
                    "grade (G1 to G5); % of the treated.", styles["body"]))
    for table in safety["tables"].values():
        parts.append(plain(table["title"], styles["h2"]))
        percent = "" if table["percent"] is None else f" ({number(table['percent'])}%)"
        parts.append(plain(f"Participants with at least one: {table['participants']}{percent}",
                        styles["body"]))
        if not table["terms"]:
            continue
        rows: list[list[object]] = [["Term", "Participants", "%",
                                     *(f"G{grade}" for grade in range(1, 6))]]
        for term in table["terms"]:
            grades = term["by_worst_grade"]
            rows.append([term["term"], term["participants"], number(term["percent"]),
                         *(grades.get(str(grade), 0) for grade in range(1, 6))])
        parts.append(grid(rows, styles, [67 * mm, 25 * mm, 13 * mm] + [13 * mm] * 5))
    return parts


def _checkpoint(content: StudyReportContent, styles: dict[str, ParagraphStyle]
                ) -> list[Flowable]:
    parts: list[Flowable] = [plain("Ledger checkpoint", styles["h1"])]
    checkpoint = content.checkpoint
    if checkpoint is None:
        return [*parts, plain("No signed checkpoint of the ledger had been issued when this "
                           "report was made.", styles["body"])]
    signature = str(checkpoint.get("signature", ""))
    rows: list[tuple[str, object]] = [
        ("Tree size (events)", checkpoint["tree_size"]),
        ("Root hash (hex)", root_hash_hex(checkpoint)),
        ("Root hash (base64)", checkpoint["root_hash"]),
        ("Signed at", checkpoint.get("timestamp") or checkpoint.get("signed_at") or "NE"),
        ("Signing key id", checkpoint.get("key_id", "NE")),
        ("Ed25519 signature", Paragraph("<br/>".join(
            escape(signature[i:i + 48]) for i in range(0, len(signature), 48)),
            styles["mono"])),
    ]
    if "events_after" in checkpoint:
        rows.append(("Events recorded after it", checkpoint["events_after"]))
    parts.append(pairs(rows, styles, mono=True))
    parts.append(plain("The newest signed checkpoint when the report was made: the ledger's "
                    "Merkle root over its first tree-size events, signed with the ledger's key "
                    "(trial-ledger verify --checkpoint checks it offline).", styles["note"]))
    return parts


def root_hash_hex(checkpoint: dict[str, Any]) -> str:
    """The checkpoint's root (the API gives base64) as hex; ValueError if it is not base64."""
    try:
        return base64.b64decode(str(checkpoint["root_hash"]), validate=True).hex()
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"the checkpoint's root_hash is not base64: {error}") from None


def _signature_page(content: StudyReportContent, signature: SignatureManifest,
                    styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    return [
        plain("Electronic signature", styles["h1"]),
        plain("Signed electronically under 21 CFR Part 11 (\u00a711.50, \u00a711.200): the signer "
           "entered their password again to sign this report.", styles["body"]),
        Spacer(1, 3 * mm),
        pairs([
            ("Printed name", signature.full_name),
            ("Username", signature.username),
            ("Date and time of signing (UTC)", signature.signed_at_text),
            ("Meaning of the signature", signature.meaning),
        ], styles),
        Spacer(1, 6 * mm),
        plain("What was signed", styles["h2"]),
        pairs([
            ("Clinical cutoff", content.cutoff.isoformat()),
            ("As of (recorded time)", as_of_text(content)),
            ("Sites covered", _sites_text(content)),
        ], styles),
        Spacer(1, 6 * mm),
        plain("The SHA-256 of this file, the signer and the meaning are recorded in the trial "
           "ledger as an export of format study-report; trial-ledger export verify FILE finds "
           "that record and checks the hash chain that holds it.", styles["note"]),
    ]


# -- pages ----------------------------------------------------------------------------------


def _numbered_canvas(header: str, font: str) -> type[Canvas]:
    """A canvas that prints the header and "page N of M" on every page, once M is known."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._page_states: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._page_states.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._page_states)
            for state in self._page_states:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            self.saveState()
            self.setFont(font, 8)
            self.setFillColor(colors.HexColor("#333333"))
            top = PAGE_HEIGHT - MARGIN + 2 * mm
            self.drawString(MARGIN, top, header)
            self.setStrokeColor(colors.HexColor("#999999"))
            self.setLineWidth(0.4)
            self.line(MARGIN, top - 2 * mm, PAGE_WIDTH - MARGIN, top - 2 * mm)
            self.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 8 * mm,
                                 f"page {self._pageNumber} of {total}")
            self.restoreState()

    return NumberedCanvas
