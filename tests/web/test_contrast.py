"""WCAG 2.1 AA contrast of every text colour the stylesheet puts on every background it puts
text on (1.4.3: at least 4.5:1 for body text), computed from the stylesheet itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "services" / "web" / "static" / "app.css"
       ).read_text()


def colour(name: str) -> str:
    """A custom property's value, or a literal colour."""
    if name.startswith("#"):
        return name
    found = re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{3,6}})", CSS)
    assert found is not None, name
    return found.group(1)


def luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    high, low = sorted((luminance(colour(foreground)), luminance(colour(background))),
                       reverse=True)
    return (high + 0.05) / (low + 0.05)


BADGES = re.findall(r"\.bor-[a-z]+(?:, \.bor-[a-z]+)? \{ background: (#[0-9a-fA-F]+); \}", CSS)
PAIRS = [("ink", "bg"), ("muted", "bg"), ("link", "bg"), ("bad", "bg"), ("#1b5e20", "bg"),
         ("ink", "band"), ("muted", "band"), ("link", "band"), ("#fff", "ink"),
         ("ink", "focus"), ("ink", "#fff7e0"), ("muted", "#fff7e0"),
         *(("ink", badge) for badge in BADGES)]


def test_the_badges_were_found() -> None:
    assert len(BADGES) == 5


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_contrast_meets_wcag_aa(text: str, background: str) -> None:
    assert contrast(text, background) >= 4.5, (text, background)
