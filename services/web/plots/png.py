"""PNG of a plot, for reports and e-mail where an SVG is not welcome: resvg, no browser.

resvg draws text only with a font it can find. The SVGs name concrete families first
(svg.FONT_FAMILY) because resvg maps the generic `sans-serif` to Arial, which Linux servers
rarely have; the first of those families installed (asked of fontconfig once) is also given as
resvg's `sans-serif`. With none of them installed the PNG is still made, without its text:
shapes, axes and marks are all drawn, and the SVG beside it stays complete.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Final

import resvg_py

_FAMILIES: Final = ("DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans")
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


def svg_to_png(svg: str, *, scale: float = 2.0) -> bytes:
    """`svg` rasterised at `scale` pixels per CSS pixel (2: sharp on paper and on high-density
    screens), on white. Raises ValueError if `svg` is not an SVG resvg can read."""
    if not 0 < scale <= 16:
        raise ValueError(f"scale must be in (0, 16], not {scale}")
    family = sans_serif_family()
    png = resvg_py.svg_to_bytes(svg_string=svg, zoom=scale, background="#ffffff",
                                font_family=family, sans_serif_family=family)
    data = bytes(png)
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("resvg returned something that is not a PNG")
    return data


@functools.cache
def sans_serif_family() -> str | None:
    """The first of the families the plots name that fontconfig knows, or None (no fontconfig,
    or none installed: resvg then keeps its own defaults)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        listing = subprocess.run([fc_list, ":", "family"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    installed = {name.strip() for entry in listing.splitlines() for name in entry.split(",")}
    return next((family for family in _FAMILIES if family in installed), None)
