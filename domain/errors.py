"""Typed domain errors: each says what is wrong and where; the API maps them to status codes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldProblem:
    """One problem at one place in the submitted entry (`loc` like "data.dose_mg")."""

    loc: str
    msg: str


class DomainError(Exception):
    """Base of the rules' refusals."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidEntry(DomainError):
    """The entry is malformed for its type (HTTP 422)."""

    def __init__(self, message: str, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class RuleViolation(DomainError):
    """The entry is well formed but conflicts with the participant's history (HTTP 409)."""

    rule: str
    message: str
    problems: list[FieldProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)


class UnknownParticipant(DomainError):
    """No such participant has been enrolled (HTTP 404)."""


class UnknownAccount(DomainError):
    """No account has this username (HTTP 404)."""
