"""Password hashing with argon2id (argon2-cffi) and the rules a new password must meet; the
password itself is never stored or logged.

Common and breached passwords (NIST SP 800-63B §5.1.1.2) are refused with zxcvbn's offline
lists: its 30,000 most frequent passwords from public breach corpora, and its estimate of how
guessable a password built from those, dictionary words, names, dates, keyboard walks and
sequences is (score below `MIN_STRENGTH_SCORE` out of 4 is refused).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
MIN_STRENGTH_SCORE = 3
"""zxcvbn's score: 3 is 'safely unguessable: moderate protection from offline attacks'."""
ESTIMATED_PREFIX = 72
"""zxcvbn estimates at most this many characters; a longer password is judged by its start."""
BREACHED = frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


DUMMY_HASH = hash_password("timing-equaliser-not-a-real-account")
"""Verified against for unknown usernames, so their timing matches a wrong password."""


def password_problems(username: str, password: str) -> list[str]:
    """Part 11 §11.300 password rules that can be checked without history."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if username.lower() in password.lower():
        problems.append("the password must not contain the username")
    weakness = guessable(password, username)
    if weakness is not None:
        problems.append(weakness)
    return problems


def guessable(password: str, username: str = "") -> str | None:
    """Why the password is common or easy to guess, or None if it is not."""
    if password.lower() in BREACHED:
        return ("the password is on a list of common and breached passwords: choose another, "
                "e.g. a passphrase of several unrelated words")
    estimate = zxcvbn(password[:ESTIMATED_PREFIX], user_inputs=[username] if username else [])
    if estimate["score"] >= MIN_STRENGTH_SCORE:
        return None
    warning = estimate["feedback"]["warning"].rstrip(".")
    because = f" ({warning[:1].lower()}{warning[1:]})" if warning else ""
    return (f"the password is too easy to guess{because}: choose another, e.g. a passphrase "
            "of several unrelated words")
