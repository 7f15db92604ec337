"""Password hashing with argon2id (argon2-cffi); the password itself is never stored or logged."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12


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
    return problems
