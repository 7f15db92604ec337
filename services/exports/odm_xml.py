"""The few XML facts every part of the ODM export shares: the namespace, how an element is made,
and how a stored value becomes the text of an ODM attribute or element.

XML 1.0 cannot carry every code point a stored event may hold: input hygiene (domain/text.py)
keeps control characters out of new entries, but an event recorded before it, or written
straight through the application layer, may still hold one. Such a code point (a C0 control
other than tab, newline and carriage return, a lone surrogate, U+FFFE or U+FFFF) is written as
U+FFFD, the replacement character, as the read models store U+0000 (domain.text.storable);
everything else, quotes, angle brackets, ampersands, emoji and any script, is written as
recorded and reads back exactly.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias

from lxml import etree

NS = "http://www.cdisc.org/ns/odm/v1.3"
NSMAP: dict[str | None, str] = {None: NS}
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"

Element: TypeAlias = etree._Element


def q(tag: str) -> str:
    """The qualified name of an ODM element."""
    return f"{{{NS}}}{tag}"


def xml_text(value: str) -> str:
    """`value` with every code point XML 1.0 cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub(REPLACEMENT, value)


def root(tag: str, **attrs: str | None) -> Element:
    """A detached ODM element declaring the ODM namespace as the default one."""
    element: Element = etree.Element(q(tag), nsmap=NSMAP)
    _set(element, attrs)
    return element


def sub(parent: Element, tag: str, text: str | None = None, **attrs: str | None) -> Element:
    """A child element; attributes given as None are left out."""
    element: Element = etree.SubElement(parent, q(tag))
    _set(element, attrs)
    if text is not None:
        element.text = xml_text(text)
    return element


def translated(parent: Element, tag: str, text: str) -> Element:
    """An element holding one TranslatedText (Description, Question, Decode, Symbol)."""
    holder = sub(parent, tag)
    sub(holder, "TranslatedText", text, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})
    return holder


def _set(element: Element, attrs: dict[str, str | None]) -> None:
    for name, value in attrs.items():
        if value is not None:
            element.set(name, xml_text(value))


def decimal_text(value: float) -> str:
    """A number as xs:decimal text (never an exponent: 1e-05 is written 0.00001)."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return repr(value)  # not a decimal; only a hand-edited event could hold it
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


def value_text(value: Any) -> str:
    """A stored JSON value as the Value of an ItemData: booleans as true/false, numbers as
    decimals, dates as YYYY-MM-DD, text as recorded; anything else (a list or object where
    the catalogue has a single value) as its JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
