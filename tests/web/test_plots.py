"""The plots draw exactly the numbers they are given, and are safe to inline in a page.

Every datum is read back from the SVG's data attributes and compared with its source (the
API's curve dict, the bars, the lanes); the geometry is read back from the drawing itself
(path commands, rectangles) and checked against the data it claims to show.
"""

from __future__ import annotations

import json
import random
import re
import struct
import xml.etree.ElementTree as ET
from collections import Counter
from itertools import pairwise
from typing import Any

import pytest

from domain.analysis.curves import survival_curve
from domain.analysis.kaplan_meier import fit_kaplan_meier
from domain.analysis.median_survival import median_survival
from domain.protocol import DAYS_PER_MONTH
from services.web.plots import (
    KmCurve,
    SwimmerLane,
    SwimmerMark,
    WaterfallBar,
    km_svg,
    svg_to_png,
    swimmer_svg,
    waterfall_svg,
)
from services.web.plots.png import PNG_SIGNATURE, sans_serif_family

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script>&\"' onload=alert(1) \x00\x1b"
HOSTILE_READ_BACK = HOSTILE.replace("\x00", "\ufffd").replace("\x1b", "\ufffd")
OKABE_ITO = {"CR": "#0072B2", "PR": "#56B4E9", "SD": "#E69F00", "PD": "#D55E00",
             "NE": "#999999", "not evaluable": "#999999"}


def sample(seed: int, size: int, longest: int) -> list[tuple[int, bool]]:
    """Whole days with ties, about a third censored, so events and censorings share days."""
    rng = random.Random(seed)
    return [(rng.randint(1, longest), rng.random() < 0.65) for _ in range(size)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def with_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [node for node in root.iter() if name in node.get("class", "").split()]


def path_points(d: str) -> list[tuple[float, float]]:
    """The vertices of a path of absolute M/L/H/V commands (what the step and band use)."""
    points: list[tuple[float, float]] = []
    x = y = 0.0
    for command, args in re.findall(r"([MLHVZ])([^MLHVZ]*)", d):
        values = [float(value) for value in args.replace(",", " ").split()]
        if command in "ML":
            x, y = values
        elif command == "H":
            (x,) = values
        elif command == "V":
            (y,) = values
        else:
            continue
        points.append((x, y))
    return points


def pairs(text: str) -> list[list[float]]:
    return [[float(value) for value in item.split(":")] for item in text.split(";")]


# --- Kaplan-Meier ----------------------------------------------------------------------------


@pytest.fixture(name="curve")
def fixture_curve() -> dict[str, Any]:
    return survival_curve(sample(7, 80, 700)).to_dict()


def test_km_steps_censor_marks_and_risk_table_are_the_apis_numbers(curve: dict[str, Any]
                                                                   ) -> None:
    root = parse(km_svg(curve, title="Progression-free survival", label="PFS"))

    (step,) = with_class(root, "km-step")
    assert [(int(day), survival) for day, survival in pairs(step.get("data-steps", ""))] == [
        (point["day"], point["survival"]) for point in curve["points"]]
    marks = with_class(root, "km-censor")
    assert curve["censor_marks"]
    assert [int(mark.get("data-day", "")) for mark in marks] == curve["censor_marks"]
    heights = {point["day"]: point["survival"] for point in curve["points"]}
    assert [float(mark.get("data-survival", "")) for mark in marks] == [
        heights[day] for day in curve["censor_marks"]]
    cells = with_class(root, "km-risk")
    assert [{"day": int(cell.get("data-day", "")), "at_risk": int(cell.get("data-at-risk", ""))}
            for cell in cells] == curve["risk_table"]
    assert [int(cell.text or "") for cell in cells] == [row["at_risk"] for row in
                                                        curve["risk_table"]]


def test_km_step_geometry_starts_at_one_never_rises_and_is_linear_in_survival(
        curve: dict[str, Any]) -> None:
    root = parse(km_svg(curve, title="PFS"))
    (step,) = with_class(root, "km-step")
    vertices = path_points(step.get("d", ""))
    xs, ys = [x for x, _ in vertices], [y for _, y in vertices]
    assert xs == sorted(xs) and ys == sorted(ys)  # SVG y grows downwards: S never goes up
    (axis_x, top), *_ = vertices
    y_axis, x_axis = sorted(with_class(root, "axis"),
                            key=lambda node: node.get("x1") != node.get("x2"))
    assert axis_x == float(y_axis.get("x1", ""))  # starts at day 0 ...
    assert top == float(y_axis.get("y1", ""))  # ... with S = 1, the top of the axis
    height = float(x_axis.get("y1", "")) - top
    last_month = max(int(tick.get("data-months", "")) for tick in with_class(root, "tick")
                     if tick.get("data-months"))
    px_per_day = (float(x_axis.get("x2", "")) - axis_x) / (last_month * DAYS_PER_MONTH)
    points = curve["points"]
    # After M, each point is an H (to its day, at the old height) then a V (to its survival).
    corners = [vertices[0]] + [vertices[2 * index] for index in range(1, len(points))]
    assert len(vertices) == 2 * len(points) - 1
    for (x, y), point in zip(corners, points, strict=True):
        assert x == pytest.approx(axis_x + point["day"] * px_per_day, abs=0.051)
        assert y == pytest.approx(top + (1 - point["survival"]) * height, abs=0.051)
    # Right-continuous: S holds at its height until the next point's day, then drops there.
    for index in range(1, len(points)):
        assert vertices[2 * index - 1] == (corners[index][0], corners[index - 1][1])


def test_km_band_is_the_apis_band_and_contains_the_step() -> None:
    # Everyone has the event in the end: S reaches 0, where the API gives no band.
    curve = survival_curve([(day, day % 4 != 0) for day in range(1, 41)] + [(41, True)]
                           ).to_dict()
    assert curve["points"][-1]["survival"] == 0.0 and curve["points"][-1]["lower"] is None
    root = parse(km_svg(curve, title="OS"))

    bands = with_class(root, "km-band")
    recovered = [row for band in bands for row in pairs(band.get("data-band", ""))]
    assert recovered == [[point["day"], point["lower"], point["upper"]]
                         for point in curve["points"] if point["lower"] is not None]
    assert all(lower <= survival <= upper for (_, lower, upper), survival in zip(
        recovered, (point["survival"] for point in curve["points"]), strict=False))
    (step,) = with_class(root, "km-step")
    vertices = path_points(step.get("d", ""))
    step_heights = [vertices[0][1]] + [vertices[2 * i][1] for i in range(1, len(recovered))]
    (band,) = bands
    outline = path_points(band.get("d", ""))
    upper, lower = outline[: len(outline) // 2], outline[len(outline) // 2:][::-1]
    for index, height in enumerate(step_heights):
        (ux0, uy), (ux1, uy1) = upper[2 * index], upper[2 * index + 1]
        (lx0, ly), (lx1, ly1) = lower[2 * index], lower[2 * index + 1]
        assert (ux0, ux1) == (lx0, lx1) and uy == uy1 and ly == ly1
        assert uy <= height <= ly


@pytest.mark.parametrize(("seed", "size"), [(seed, size) for seed in range(6)
                                            for size in (5, 30, 150)])
def test_km_median_in_the_description_is_the_endpoints_median(seed: int, size: int) -> None:
    observations = sample(seed, size, 500)
    curve = survival_curve(observations).to_dict()
    days, events = zip(*observations, strict=True)
    expected = median_survival(fit_kaplan_meier(list(days), list(events))).estimate
    assert KmCurve.from_api(curve).median_day() == expected
    desc = parse(km_svg(curve, title="PFS", label="PFS")).findtext(f"{SVG}desc")
    n_events = sum(events)
    assert desc is not None and f"n={size}, " in desc and f" {n_events} event" in desc
    if expected is None:
        assert "median not reached" in desc
    else:
        assert f"median {expected / DAYS_PER_MONTH:.1f} months" in desc


def test_km_median_on_a_flat_at_one_half_is_the_midpoint() -> None:
    curve = KmCurve.from_api(survival_curve([(1, True), (2, True), (3, True), (4, True)]
                                            ).to_dict())
    assert curve.median_day() == 2.5


def test_km_accepts_the_json_the_api_returns(curve: dict[str, Any]) -> None:
    assert km_svg(json.loads(json.dumps(curve)), title="PFS") == km_svg(curve, title="PFS")


def test_km_of_no_participant_says_so() -> None:
    svg = km_svg(survival_curve([]).to_dict(), title="Duration of response", label="DOR")
    root = parse(svg)
    assert not with_class(root, "km-step")
    (note,) = with_class(root, "empty")
    assert "No participant" in (note.text or "")
    assert root.findtext(f"{SVG}desc") == "Kaplan-Meier DOR: no participant"


def test_km_overlay_draws_two_labelled_curves_each_with_its_risk_row() -> None:
    recist = survival_curve(sample(1, 60, 600)).to_dict()
    mrecist = survival_curve(sample(2, 60, 600)).to_dict()
    root = parse(km_svg(recist, title="PFS by criteria", label="RECIST 1.1", overlay=mrecist,
                        overlay_label="mRECIST", unit="days"))
    groups = with_class(root, "km-curve")
    assert [group.get("data-label") for group in groups] == ["RECIST 1.1", "mRECIST"]
    for group, curve in zip(groups, (recist, mrecist), strict=True):
        (step,) = with_class(group, "km-step")
        assert [int(day) for day, _ in pairs(step.get("data-steps", ""))] == [
            point["day"] for point in curve["points"]]
    dashes = [step.get("stroke-dasharray") for step in with_class(root, "km-step")]
    assert dashes[0] is None and dashes[1]  # told apart by dash, not only by colour
    rows = with_class(root, "km-risk-row")
    assert [[int(cell.get("data-at-risk", "")) for cell in row] for row in rows] == [
        [cell["at_risk"] for cell in curve["risk_table"]] for curve in (recist, mrecist)]
    legend = "".join(with_class(root, "legend")[0].itertext())
    assert "RECIST 1.1" in legend and "mRECIST" in legend
    assert "Days since treatment start" in "".join(root.itertext())


def test_km_refuses_a_curve_that_goes_up(curve: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(curve))
    broken["points"][2]["survival"] = broken["points"][1]["survival"] + 0.01
    with pytest.raises(ValueError, match="never goes up"):
        km_svg(broken, title="PFS")
    with pytest.raises(ValueError, match="not a curve"):
        km_svg({"n": 1}, title="PFS")


# --- Waterfall -------------------------------------------------------------------------------


def some_bars(count: int, seed: int = 3) -> list[WaterfallBar]:
    rng = random.Random(seed)
    return [WaterfallBar(f"HCC-{index:04d}", round(rng.uniform(-100, 90), 1),
                         rng.choice(list(OKABE_ITO))) for index in range(count)]


def test_waterfall_bars_run_from_largest_increase_to_largest_decrease() -> None:
    bars = some_bars(40) + [WaterfallBar("HCC-tie-b", 10.0, "SD"),
                            WaterfallBar("HCC-tie-a", 10.0, "SD")]
    root = parse(waterfall_svg(bars, title="Best change"))
    drawn = with_class(root, "bar")
    changes = [float(bar.get("data-change", "")) for bar in drawn]
    assert changes == sorted((bar.best_change_pct for bar in bars), reverse=True)
    assert Counter((bar.get("data-participant"), bar.get("data-bor")) for bar in drawn) == \
        Counter((bar.participant_id, bar.bor) for bar in bars)
    ties = [bar.get("data-participant") for bar in drawn if bar.get("data-change") == "10.0"]
    assert ties == ["HCC-tie-a", "HCC-tie-b"]
    xs = [float(bar.get("x", "")) for bar in drawn]
    assert xs == sorted(xs)


def test_waterfall_colours_are_the_palette_and_the_legend_matches() -> None:
    root = parse(waterfall_svg(some_bars(60), title="Best change"))
    for bar in with_class(root, "bar"):
        assert bar.get("fill") == OKABE_ITO[bar.get("data-bor", "")]
    swatches = {swatch.get("data-bor"): swatch.get("fill")
                for swatch in with_class(root, "legend-swatch")}
    assert swatches == {name: OKABE_ITO[name] for name in ("CR", "PR", "SD", "PD", "NE")}
    legend = "".join(with_class(root, "legend")[0].itertext())
    counts = Counter(bar.get("data-bor") for bar in with_class(root, "bar"))
    assert f"CR ({counts['CR']})" in legend
    assert f"NE / not evaluable ({counts['NE'] + counts['not evaluable']})" in legend


def test_waterfall_bar_heights_are_their_changes_against_the_threshold_lines() -> None:
    bars = [WaterfallBar("up", 20.0, "SD"), WaterfallBar("down", -30.0, "PR"),
            WaterfallBar("gone", -100.0, "CR"), WaterfallBar("flat", 0.0, "SD")]
    root = parse(waterfall_svg(bars, title="Best change"))
    lines = {float(node.get("data-change", "")): node for node in with_class(root, "threshold")}
    assert set(lines) == {20.0, -30.0}
    assert all(node.get("stroke-dasharray") for node in lines.values())
    (zero,) = with_class(root, "zero-line")
    zero_y = float(zero.get("y1", ""))
    drawn = {bar.get("data-participant"): bar for bar in with_class(root, "bar")}

    def top(name: str) -> float:
        return float(drawn[name].get("y", ""))

    def bottom(name: str) -> float:
        return top(name) + float(drawn[name].get("height", ""))

    assert top("up") == pytest.approx(float(lines[20.0].get("y1", "")), abs=0.1)
    assert bottom("up") == pytest.approx(zero_y, abs=0.1)
    assert top("down") == pytest.approx(zero_y, abs=0.1)
    assert bottom("down") == pytest.approx(float(lines[-30.0].get("y1", "")), abs=0.1)
    scale = (bottom("down") - zero_y) / 30
    assert bottom("gone") - zero_y == pytest.approx(100 * scale, abs=0.1)
    assert float(drawn["flat"].get("height", "")) >= 1.0  # a 0% change is still visible


def test_waterfall_clips_beyond_the_axis_and_marks_the_clipped_bars() -> None:
    bars = [WaterfallBar("huge", 250.0, "PD"), WaterfallBar("edge", 100.0, "PD"),
            WaterfallBar("small", -40.0, "PR")]
    root = parse(waterfall_svg(bars, title="Best change"))
    drawn = {bar.get("data-participant"): bar for bar in with_class(root, "bar")}
    assert drawn["huge"].get("data-change") == "250.0"
    assert drawn["huge"].get("data-clipped") == "true"
    assert "data-clipped" not in drawn["edge"].attrib
    assert drawn["huge"].get("y") == drawn["edge"].get("y")
    assert drawn["huge"].get("height") == drawn["edge"].get("height")
    assert [marker.get("data-participant") for marker in with_class(root, "clip-marker")] == [
        "huge"]


def test_waterfall_hatches_wide_bars_for_grey_print_and_skips_them_when_dense() -> None:
    few = parse(waterfall_svg(some_bars(20), title="Best change"))
    patterns = {node.get("id") for node in few.iter(f"{SVG}pattern")}
    hatched = [node.get("fill", "") for node in with_class(few, "hatches")[0]]
    assert hatched and all(fill[len("url(#"):-1] in patterns for fill in hatched)
    assert len(hatched) == sum(1 for bar in some_bars(20) if bar.bor != "CR")
    dense = parse(waterfall_svg(some_bars(1000), title="Best change"))
    assert len(with_class(dense, "bar")) == 1000
    assert not list(with_class(dense, "hatches")[0])


def test_waterfall_refuses_what_cannot_be_a_change_or_a_response() -> None:
    with pytest.raises(ValueError, match="best overall response"):
        WaterfallBar("p", 10.0, "iCPD")
    with pytest.raises(ValueError, match="finite"):
        WaterfallBar("p", float("nan"), "SD")
    with pytest.raises(ValueError, match=">= -100%"):
        WaterfallBar("p", -100.5, "CR")


def test_waterfall_of_no_one_says_so() -> None:
    root = parse(waterfall_svg([], title="Best change"))
    assert not with_class(root, "bar") and with_class(root, "empty")


# --- Swimmer ---------------------------------------------------------------------------------


def some_lanes(count: int, seed: int = 5) -> list[SwimmerLane]:
    rng = random.Random(seed)
    lanes = []
    for index in range(count):
        end = rng.randint(0, 900)
        kinds = rng.sample(["CR", "PR", "SD", "PD", "death", "off-treatment"], rng.randint(0, 4))
        lanes.append(SwimmerLane(f"HCC-{index:04d}", end, rng.random() < 0.3,
                                 tuple(SwimmerMark(rng.randint(0, end), kind) for kind in kinds)))
    return lanes


def test_swimmer_lanes_are_sorted_longest_first_with_their_marks() -> None:
    lanes = some_lanes(40)
    root = parse(swimmer_svg(lanes, title="Time on study"))
    drawn = with_class(root, "lane")
    expected = sorted(lanes, key=lambda lane: (-lane.end_day, lane.participant_id))
    assert [(node.get("data-participant"), int(node.get("data-end-day", "")),
             node.get("data-ongoing") == "true") for node in drawn] == [
        (lane.participant_id, lane.end_day, lane.ongoing) for lane in expected]
    for node, lane in zip(drawn, expected, strict=True):
        marks = with_class(node, "mark")
        assert Counter((int(mark.get("data-day", "")), mark.get("data-kind")) for mark in marks
                       ) == Counter((mark.day, mark.kind) for mark in lane.marks)
        assert len(with_class(node, "ongoing")) == int(lane.ongoing)


def test_swimmer_geometry_is_proportional_to_days() -> None:
    lanes = [lane for lane in some_lanes(30) if lane.end_day > 0]
    root = parse(swimmer_svg(lanes, title="Time on study", unit="days"))
    longest = max(lanes, key=lambda lane: lane.end_day)
    drawn = with_class(root, "lane")
    (first_bar,) = with_class(drawn[0], "lane-bar")
    assert drawn[0].get("data-end-day") == str(longest.end_day)
    px_per_day = float(first_bar.get("width", "")) / longest.end_day
    for node in drawn:
        (bar,) = with_class(node, "lane-bar")
        left, width = float(bar.get("x", "")), float(bar.get("width", ""))
        end_day = int(node.get("data-end-day", ""))
        assert width == pytest.approx(max(end_day * px_per_day, 1.0), abs=0.051)
        for mark in with_class(node, "mark"):
            start = re.match(r"M([-\d.]+) ", mark.get("d", ""))
            assert start is not None
            assert left - 8 <= float(start.group(1)) <= left + width + 8
    heights = [float(with_class(node, "lane-bar")[0].get("y", ""))
               for node in with_class(root, "lane")]
    assert heights == sorted(heights)


def test_swimmer_of_a_thousand_lanes_grows_tall_rather_than_thin() -> None:
    root = parse(swimmer_svg(some_lanes(1000), title="Time on study"))
    drawn = with_class(root, "lane")
    assert len(drawn) == 1000
    tops = [float(with_class(node, "lane-bar")[0].get("y", "")) for node in drawn]
    assert min(after - before for before, after in pairwise(tops)) >= 14
    assert float(root.get("height", "")) > 14 * 1000
    ticks_above = [tick for tick in with_class(root, "tick") if float(tick.get("y", "")) < tops[0]]
    assert len(ticks_above) > 2  # the time axis is repeated above the lanes
    few = parse(swimmer_svg(some_lanes(3), title="Time on study"))
    assert float(with_class(few, "lane-bar")[0].get("height", "")) <= 28


def test_swimmer_draws_a_mark_dated_after_the_lane_where_it_was_dated() -> None:
    late = SwimmerLane("late", 30, False, (SwimmerMark(45, "off-treatment"),))
    root = parse(swimmer_svg([late, SwimmerLane("other", 40, True)], title="t", unit="days"))
    lanes = {node.get("data-participant"): node for node in with_class(root, "lane")}
    (bar,) = with_class(lanes["late"], "lane-bar")
    (other_bar,) = with_class(lanes["other"], "lane-bar")
    (mark,) = with_class(lanes["late"], "mark")
    end = float(bar.get("x", "")) + float(bar.get("width", ""))
    px_per_day = float(other_bar.get("width", "")) / 40
    start = re.match(r"M([-\d.]+) ", mark.get("d", ""))
    assert start is not None and float(start.group(1)) == pytest.approx(
        end + 15 * px_per_day, abs=0.1)
    axis_end = max(int(tick.get("data-days", "")) for tick in with_class(root, "tick"))
    assert axis_end >= 45


def test_swimmer_refuses_unknown_marks_and_negative_days() -> None:
    with pytest.raises(ValueError, match="swimmer mark"):
        SwimmerMark(3, "progression")
    with pytest.raises(ValueError, match="day 0 or later"):
        SwimmerMark(-1, "PD")
    with pytest.raises(ValueError, match="day 0 or later"):
        SwimmerLane("p", -2, False)


# --- What every plot must be -----------------------------------------------------------------


def every_plot() -> list[tuple[str, str]]:
    curve = survival_curve(sample(9, 50, 400)).to_dict()
    hostile_bars = [WaterfallBar(HOSTILE, 150.0, "PD"), WaterfallBar("b", -50.0, "PR")]
    hostile_lanes = [SwimmerLane(HOSTILE, 200, True, (SwimmerMark(100, "PR"),))]
    return [
        ("km", km_svg(curve, title=HOSTILE, label=HOSTILE)),
        ("km-overlay", km_svg(curve, title="PFS", label="a", overlay=curve,
                              overlay_label=HOSTILE)),
        ("km-empty", km_svg(survival_curve([]).to_dict(), title=HOSTILE)),
        ("waterfall", waterfall_svg(hostile_bars, title=HOSTILE)),
        ("waterfall-empty", waterfall_svg([], title=HOSTILE)),
        ("swimmer", swimmer_svg(hostile_lanes, title=HOSTILE)),
        ("swimmer-empty", swimmer_svg([], title=HOSTILE)),
    ]


@pytest.mark.parametrize(("name", "svg"), every_plot())
def test_every_plot_is_an_accessible_self_contained_image(name: str, svg: str) -> None:
    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert [child.tag for child in root[:2]] == [f"{SVG}title", f"{SVG}desc"]
    assert root.findtext(f"{SVG}title") == HOSTILE_READ_BACK or name == "km-overlay"
    assert root.findtext(f"{SVG}desc")
    ids = {node.get("id") for node in root.iter() if node.get("id")}
    for node in root.iter():
        assert node.tag.split("}")[1] not in {"script", "style", "foreignObject", "image", "a"}
        for attribute, value in node.attrib.items():
            assert attribute != "style" and not attribute.lower().startswith("on")
            assert "href" not in attribute
            for reference in re.findall(r"url\(([^)]*)\)", value):
                assert reference.startswith("#") and reference[1:] in ids
        if "font-size" in node.attrib:
            assert float(node.get("font-size", "")) >= 10


@pytest.mark.parametrize(("name", "svg"), every_plot())
def test_user_strings_are_escaped_not_interpreted(name: str, svg: str) -> None:
    assert "<script" not in svg and "\x00" not in svg
    root = parse(svg)
    texts = [value for node in root.iter() for value in (*node.attrib.values(), node.text or "")]
    assert HOSTILE_READ_BACK in texts or any(HOSTILE_READ_BACK[:12] in value for value in texts)
    participants = {node.get("data-participant") for node in root.iter()} - {None}
    if name in {"waterfall", "swimmer"}:
        assert HOSTILE_READ_BACK in participants


# --- PNG -------------------------------------------------------------------------------------


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a PNG must start with."""
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize("scale", [1.0, 2.0, 3.0])
def test_png_is_the_svg_at_scale(scale: float) -> None:
    svg = waterfall_svg(some_bars(30), title="Best change")
    root = parse(svg)
    png = svg_to_png(svg, scale=scale)
    assert png.startswith(PNG_SIGNATURE)
    width, height = png_size(png)
    assert (width, height) == (round(float(root.get("width", "")) * scale),
                               round(float(root.get("height", "")) * scale))


def test_png_shows_the_bars_in_their_colours() -> None:
    image_module = pytest.importorskip("PIL.Image")
    import io

    svg = waterfall_svg([WaterfallBar("cr", -80.0, "CR"), WaterfallBar("pd", 60.0, "PD")],
                        title="Best change")
    image = image_module.open(io.BytesIO(svg_to_png(svg, scale=1.0))).convert("RGB")
    for bar in with_class(parse(svg), "bar"):
        left, top = float(bar.get("x", "")), float(bar.get("y", ""))
        width, height = float(bar.get("width", "")), float(bar.get("height", ""))
        inside = [image.getpixel((x, y)) for x in range(int(left) + 2, int(left + width) - 1)
                  for y in range(int(top) + 2, int(top + height) - 1)]
        expected = bar.get("fill", "")
        colour, _ = Counter(inside).most_common(1)[0]  # a hatch is drawn over some pixels
        assert colour == tuple(int(expected[i:i + 2], 16) for i in (1, 3, 5))


def test_png_draws_text_with_the_machines_fonts() -> None:
    if sans_serif_family() is None:
        pytest.skip("no font the plots name is installed: text is left out of PNGs")
    blank = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30">'
             '<rect width="120" height="30" fill="#ffffff"/>{}</svg>')
    words = blank.format('<text x="4" y="20" font-family="sans-serif" font-size="14">'
                         "Number at risk</text>")
    assert len(svg_to_png(words, scale=1.0)) > len(svg_to_png(blank.format(""), scale=1.0)) + 100


def test_png_refuses_what_is_not_an_svg() -> None:
    with pytest.raises(ValueError):
        svg_to_png("<html>not a picture</html>")
    with pytest.raises(ValueError, match="scale"):
        svg_to_png(km_svg(survival_curve([]).to_dict(), title="x"), scale=0)
