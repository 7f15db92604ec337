"""How `trial-ledger` commands fail: an exit code per kind of failure, and one line on stderr
naming the problem and its fix instead of a traceback.

Exit codes (a scheduled `trial-ledger verify` alerts on each differently):

- 0: ok (for `verify`: every check passed).
- 1: verification failed: the log, a checkpoint or a read model does not match (tampering or
  corruption); the JSON report on stdout names the first bad position, leaf or row.
- 2: usage or configuration error: a bad option or argument, an invalid setting or store URL,
  credentials the server refuses, a secret file others may read, a signing key that is missing
  while the store holds signed checkpoints, or a command the ledger refuses (e.g. a weak
  password). Fix the command or the configuration; retrying as is will fail again.
- 3: store unavailable: no SQLite file where the URL points (read-only commands never create
  one), the PostgreSQL server is unreachable, the database does not exist, or its schema is
  not at this version's revision (run `trial-ledger db upgrade`).
"""

from __future__ import annotations

import re
import sqlite3
import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from infra.db import DatabaseURL, StoreMissing, StoreURLError
from infra.migrate import SchemaNotCurrent
from infra.secret_files import InsecureSecretFile


class ExitCode(IntEnum):
    OK = 0
    VERIFICATION_FAILED = 1
    CONFIGURATION = 2
    STORE_UNAVAILABLE = 3


PLAIN_HELP: dict[str, Any] = {"rich_markup_mode": None, "no_args_is_help": True}
"""Every command group's help: plain (click), so flags print as `--flag`, never with a
`<bool>` type; a group named alone prints its help."""

EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0  ok\n"
    "  1  verification failed: the log, a checkpoint or a read model does not match\n"
    "  2  usage or configuration error: bad option, setting or store URL, login refused,\n"
    "     exposed or missing secret (e.g. no signing key while checkpoints are stored)\n"
    "  3  store unavailable: no SQLite file, server unreachable, database missing, or\n"
    "     schema not migrated (run `trial-ledger db upgrade`)"
)
"""The table every command's help shows (click keeps a paragraph starting with \\b as is)."""


class CliFailure(Exception):
    """A failure the command reports as one line and an exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class StoreInUse:
    """Which setting names the store a command is connecting to, for the fix in a message."""

    variable: str = "TRIAL_LEDGER_DATABASE_URL"
    database: DatabaseURL | None = None


_in_use = StoreInUse()


def using_store(variable: str, database: DatabaseURL | None) -> None:
    """Record the store the command connects to next (named in connection failures)."""
    _in_use.variable, _in_use.database = variable, database


def _setting_name(loc: tuple[Any, ...]) -> str:
    return "TRIAL_LEDGER_" + str(loc[0]).upper() if loc else "a TRIAL_LEDGER_ setting"


def _settings_failure(error: ValidationError) -> CliFailure:
    problems = "; ".join(f"{_setting_name(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                         for e in error.errors())
    return CliFailure(ExitCode.CONFIGURATION,
                      f"invalid setting: {problems}; fix: correct it in the environment")


def _database_error_text(error: BaseException) -> str | None:
    """The driver's message behind a SQLAlchemy, eventsourcing or driver error, on one line."""
    import psycopg

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.Error | sqlite3.Error):
            text = " ".join(str(current).split())
            return text.split("FATAL: ", 1)[-1]
        if isinstance(current, sa.exc.DBAPIError) and current.orig is not None:
            current = current.orig
            continue
        current = current.__cause__ or current.__context__
    return None


_REFUSED_LOGIN = re.compile(r"role \S+ does not exist|password authentication failed|"
                            r"authentication failed|no pg_hba\.conf entry|"
                            r"no password supplied|permission denied for database")
_UNREACHABLE = re.compile(r"connection refused|could not translate host name|failed to resolve "
                          r"host|name or service not known|timeout expired|timed out|network is "
                          r"unreachable|no route to host|server closed the connection|"
                          r"the database system is (starting up|shutting down|in recovery)|"
                          r"no such file or directory", re.IGNORECASE)
_NOT_MIGRATED = re.compile(r"no such table|relation \S+ does not exist|permission denied for "
                           r"(table|sequence|schema)")


def _database_failure(text: str) -> CliFailure:
    variable, database = _in_use.variable, _in_use.database
    where = database.describe() if database is not None else "the store"
    missing_db = re.search(r'database "([^"]+)" does not exist', text)
    if missing_db:
        name = missing_db.group(1)
        return CliFailure(ExitCode.STORE_UNAVAILABLE,
                          f"{where}: the database does not exist; fix: create it (createdb "
                          f"{name}) and run `trial-ledger db upgrade`, or correct the database "
                          f"name in {variable}")
    if _REFUSED_LOGIN.search(text):
        return CliFailure(ExitCode.CONFIGURATION,
                          f"{where}: the server refused the login ({text}); fix: correct the "
                          f"user name and password in {variable}, or create that role with LOGIN")
    if _NOT_MIGRATED.search(text):
        return CliFailure(ExitCode.STORE_UNAVAILABLE,
                          f"{where} is not set up for this service ({text}); fix: run "
                          "`trial-ledger db upgrade` as the schema owner (it creates the tables "
                          "and grants the runtime role)")
    if "file is not a database" in text:
        return CliFailure(ExitCode.CONFIGURATION,
                          f"{where} is not a SQLite database; fix: point {variable} at the "
                          "store's file")
    if "unable to open database file" in text or "readonly database" in text:
        return CliFailure(ExitCode.STORE_UNAVAILABLE,
                          f"cannot open {where} ({text}); fix: check that the file and its "
                          f"folder exist and that this user may read and write them, or "
                          f"correct {variable}")
    if _UNREACHABLE.search(text):
        return CliFailure(ExitCode.STORE_UNAVAILABLE,
                          f"cannot reach {where} ({text}); fix: start PostgreSQL, or correct "
                          f"the host and port in {variable}")
    return CliFailure(ExitCode.STORE_UNAVAILABLE, f"{where}: {text}")


def _is_connection_error(error: BaseException) -> bool:
    """Errors of reaching or reading the store (not constraint violations, which are bugs or
    races the command handles itself)."""
    import psycopg
    from eventsourcing import persistence

    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError
                      | sa.exc.ProgrammingError | persistence.OperationalError
                      | persistence.InterfaceError | persistence.ProgrammingError
                      | sqlite3.OperationalError | psycopg.OperationalError
                      | psycopg.InterfaceError | psycopg.ProgrammingError)


def failure_for(error: BaseException) -> CliFailure | None:
    """The one-line failure for a configuration or store error; None for anything else."""
    from infra.ledger.checkpoints import SigningKeyError

    variable = _in_use.variable
    if isinstance(error, CliFailure):
        return error
    if isinstance(error, ValidationError):
        return _settings_failure(error)
    if isinstance(error, StoreURLError):
        return CliFailure(ExitCode.CONFIGURATION, f"{variable}: {error}; fix: set {variable} "
                                                  "to a valid store URL")
    if isinstance(error, StoreMissing):
        return CliFailure(ExitCode.STORE_UNAVAILABLE,
                          f"no store at {error.path} ({variable}); fix: run `trial-ledger db "
                          f"upgrade` to create it there, or set {variable} to the existing "
                          "store (read-only commands never create one)")
    if isinstance(error, SchemaNotCurrent):
        where = _in_use.database.describe() if _in_use.database else "the store"
        fix = ("install the trial-ledger version that migrated it" if error.current and
               "does not know" in str(error) else "run `trial-ledger db upgrade` (as the "
                                                  "schema owner)")
        return CliFailure(ExitCode.STORE_UNAVAILABLE, f"{where} {error}; fix: {fix}")
    if isinstance(error, InsecureSecretFile):
        return CliFailure(ExitCode.CONFIGURATION, str(error))
    if isinstance(error, SigningKeyError):
        text = str(error)
        if "fix:" not in text:
            text += ("; fix: point TRIAL_LEDGER_SIGNING_KEY_FILE at the service's Ed25519 "
                     "checkpoint key, or unset it")
        return CliFailure(ExitCode.CONFIGURATION, text)
    if _is_connection_error(error):
        database_text = _database_error_text(error)
        if database_text is not None:
            return _database_failure(database_text)
    return None


class FailCleanly(TyperGroup):
    """The top-level command group: a configuration or store error becomes one line on
    stderr and its exit code (ExitCode), never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        using_store("TRIAL_LEDGER_DATABASE_URL", None)
        try:
            return super().invoke(ctx)
        except Exception as error:
            failure = failure_for(error)
            if failure is None:
                raise
            print(failure.message, file=sys.stderr, flush=True)
            raise typer.Exit(int(failure.code)) from None
