"""Text hygiene: which code points a client's text may hold, and how stored text is made safe.

Two kinds of client text:

- a *short text* (identifiers, names, terms, query parameters, header values): no control
  characters at all (C0, DEL, C1), no bidirectional overrides, isolates or marks, no
  zero-width characters, no line or paragraph separators, no lone surrogates, no
  noncharacters;
- a *free text* (a `reason`, a comment): the same, except that tab and newline are allowed
  (CR LF and a lone CR become a newline) and so are the zero-width joiner and non-joiner,
  which some scripts and emoji sequences need.

Accepted text is normalised to Unicode NFC, so one visible string has one stored form.

Events recorded before these checks existed, or written straight through the application
layer, may still hold any code point. `storable` is what a read model stores instead:
U+0000 (which a PostgreSQL text column refuses) and lone surrogates (which UTF-8 cannot
encode) become U+FFFD, the replacement character, on every store alike; everything else is
kept as recorded. The hashed event itself is never changed.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                           *range(0x2066, 0x206A)})
"""Arabic letter mark, LRM/RLM, embeddings and overrides (U+202A-E), isolates (U+2066-9)."""
ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF})
"""Zero-width space, non-joiner, joiner, word joiner, and the byte-order mark."""
JOINERS = frozenset({0x200C, 0x200D})
"""The zero-width characters a free text may keep (scripts and emoji sequences need them)."""
SEPARATORS = frozenset({0x2028, 0x2029})
FREE_TEXT_CONTROLS = frozenset({0x09, 0x0A})
REPLACEMENT = "\ufffd"


def _kind(code: int, *, free: bool) -> str | None:
    """What is wrong with one code point in this kind of text, or None."""
    if code < 0x20 or 0x7F <= code <= 0x9F:
        if free and code in FREE_TEXT_CONTROLS:
            return None
        return "a control character"
    if code in BIDI_CONTROLS:
        return "a bidirectional control character"
    if code in ZERO_WIDTH and not (free and code in JOINERS):
        return "a zero-width character"
    if code in SEPARATORS:
        return "a line or paragraph separator"
    if 0xD800 <= code <= 0xDFFF:
        return "a lone surrogate"
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return "a noncharacter"
    return None


def text_problem(value: str, *, free: bool = False) -> str | None:
    """Why `value` is not acceptable client text (naming the first bad code point), or None."""
    for index, char in enumerate(value):
        kind = _kind(ord(char), free=free)
        if kind is not None:
            hint = (" (tab and newline are allowed only in free text such as a reason)"
                     if ord(char) in FREE_TEXT_CONTROLS else "")
            return f"must not contain {kind}: U+{ord(char):04X} at character {index + 1}{hint}"
    return None


def clean_text(value: str, *, free: bool = False) -> str:
    """The NFC form of acceptable text; raises ValueError saying what is wrong and where."""
    if free:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    problem = text_problem(value, free=free)
    if problem is not None:
        raise ValueError(problem)
    return unicodedata.normalize("NFC", value)


def _validator(free: bool) -> BeforeValidator:
    """Checks (and normalises) the text as sent, before any whitespace stripping: Python's
    strip() would silently drop a trailing C1 control such as U+0085."""

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the str schema itself says what is wrong
        try:
            return clean_text(value, free=free)
        except ValueError as error:
            raise PydanticCustomError("text_code_point", str(error)) from None

    return BeforeValidator(check)


def _secret_check(value: Any) -> Any:
    """A password is never normalised (it must match what was hashed), but it must be text a
    person can type and UTF-8 can encode."""
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    for char in raw:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
            raise PydanticCustomError(
                "text_code_point",
                "must not contain a control character or a lone surrogate")
    return value


TEXT = _validator(free=False)
"""A short text or identifier: no control, bidi, zero-width or surrogate code points; NFC."""
FREE_TEXT = _validator(free=True)
"""A free text: as TEXT, but tab, newline and the zero-width (non-)joiner are allowed."""
Text = Annotated[str, TEXT]
FreeText = Annotated[str, FREE_TEXT]
SECRET_TEXT = AfterValidator(_secret_check)
"""For a password field: refuses control characters and lone surrogates, never normalises."""


def storable(value: str) -> str:
    """`value` as a read model stores it: U+0000 and lone surrogates become U+FFFD."""
    if "\x00" not in value and value.isascii():
        return value
    return "".join(REPLACEMENT if char == "\x00" or 0xD800 <= ord(char) <= 0xDFFF else char
                   for char in value)
