"""Plots for auditors, monitors and statisticians: read models in, SVG (or PNG) out.

Pure functions, no I/O: `km_svg` draws a Kaplan-Meier curve exactly as
`GET /api/v1/endpoints/curves` returns it, `waterfall_svg` best changes in tumour burden,
`swimmer_svg` each participant's time on study, and `svg_to_png` rasterises any of them.
Why these are hand-built SVG rather than a plotting library: docs/adr/0014.
"""

from services.web.plots.data import KmCurve, SwimmerLane, SwimmerMark, WaterfallBar
from services.web.plots.km import km_svg
from services.web.plots.png import svg_to_png
from services.web.plots.swimmer import swimmer_svg
from services.web.plots.waterfall import waterfall_svg

__all__ = [
    "KmCurve",
    "SwimmerLane",
    "SwimmerMark",
    "WaterfallBar",
    "km_svg",
    "svg_to_png",
    "swimmer_svg",
    "waterfall_svg",
]
