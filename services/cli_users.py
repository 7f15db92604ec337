"""`trial-ledger users ...` and `trial-ledger study ...`: accounts and study declarations from the
console, through the application's named commands."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Literal

import typer
from rich.console import Console

from domain.errors import DomainError
from infra.settings import get_settings
from services.cli_errors import PLAIN_HELP, ExitCode
from services.cli_store import err, ledger_of, migrate, reading

users_app = typer.Typer(help="User accounts.", **PLAIN_HELP)
study_app = typer.Typer(help="Study-wide declarations (data cutoffs).",
                        **PLAIN_HELP)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(metavar="USERNAME")],
    role: Annotated[str, typer.Option(metavar="ROLE", help="site_coordinator, investigator, monitor, "
                                           "data_manager, auditor or admin")],
    site: Annotated[list[str] | None, typer.Option(metavar="SITE", help="A site the user works for "
                                                        "(repeatable).")] = None,
    full_name: Annotated[str, typer.Option(metavar="TEXT", help="Printed name shown on signatures.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input."
                                                 )] = False,
) -> None:
    """Create an account (the first admin comes from here)."""
    from services.accounts import add_user
    from services.application import Actor

    settings = get_settings()
    migrate(settings)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()
    ledger = ledger_of(settings)
    try:
        account = add_user(ledger, username=name, role=role, sites=list(site or []),
                           full_name=full_name or name, password=password,
                           by=Actor(f"cli:{getpass.getuser()}", "system"))
    except DomainError as error:
        err.print(f"[red]not created:[/red] {error.message}")
        raise typer.Exit(ExitCode.CONFIGURATION) from None
    err.print(f"created {account.username} ({account.account_role})")


Reason = Annotated[str, typer.Option(metavar="TEXT", help="Why (required; kept in the ledger).")]
Username = Annotated[str, typer.Argument(metavar="USERNAME")]


AccountCommand = Literal["lock_account", "unlock_account", "deactivate_account", "grant_role"]


def _account_command(name: str, command: AccountCommand, *args: str) -> None:
    """One named account command of the application (`lock_account`, `grant_role`, ...) as
    the operator at the console (e.g. unlock the last admin)."""
    from domain.ledger_event import Author

    settings = get_settings()
    migrate(settings)
    ledger = ledger_of(settings)
    by = Author(f"cli:{getpass.getuser()}", "system")
    try:
        account = getattr(ledger, command)(name, *args[:-1], by, args[-1])
    except DomainError as error:
        err.print(f"[red]not changed:[/red] {error.message}", highlight=False)
        raise typer.Exit(ExitCode.CONFIGURATION) from None
    view = account.public_view()
    err.print(f"{name}: role {view['role']}, active {view['active']}, locked {view['locked']}")


@users_app.command("lock")
def users_lock(name: Username, reason: Reason) -> None:
    """Lock an account: it cannot sign in and its tokens stop working."""
    _account_command(name, "lock_account", reason)


@users_app.command("unlock")
def users_unlock(name: Username, reason: Reason) -> None:
    """Unlock an account (also after five failed sign-ins)."""
    _account_command(name, "unlock_account", reason)


@users_app.command("deactivate")
def users_deactivate(name: Username, reason: Reason) -> None:
    """Close an account for good; the username is never reused."""
    _account_command(name, "deactivate_account", reason)


@users_app.command("grant")
def users_grant(name: Username,
                role: Annotated[str, typer.Option(metavar="ROLE", help="The new role.")],
                reason: Reason) -> None:
    """Grant a role, replacing the account's current one."""
    _account_command(name, "grant_role", role, reason)


@users_app.command("list")
def users_list() -> None:
    """List every account ever created (deactivated ones too; usernames are never reused):
    username, full name, role, sites, active, locked. Read only."""
    from datetime import UTC, datetime

    from services.cli_output import accounts_table

    ledger = ledger_of(reading())
    now = datetime.now(UTC)
    views = [account.public_view(now) for name in ledger.usernames()
             if (account := ledger.account(name)) is not None]
    Console().print(accounts_table(views))


@study_app.command("cutoffs")
def study_cutoffs() -> None:
    """List the declared data cutoffs: name, cutoff date, who declared it, when it was
    recorded, and why. Read only."""
    from domain.study import STUDY_STREAM_ID
    from services.cli_output import cutoffs_table

    ledger = ledger_of(reading())
    study = ledger.study()
    cutoffs = [{**view, "recorded_at": ledger.recorded_at(STUDY_STREAM_ID, view["version"])}
               for view in (study.cutoff_views() if study else [])]
    if not cutoffs:
        err.print("no cutoff declared yet (a data manager declares one with "
                  "POST /api/v1/study/cutoffs)")
        return
    Console().print(cutoffs_table(cutoffs))
