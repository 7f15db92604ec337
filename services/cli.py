"""The `trial-ledger` command line."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from domain.errors import DomainError
from infra.db import create_engine
from infra.migrate import upgrade
from infra.settings import Settings

app = typer.Typer(help="Event-sourced audit ledger for the TACE + camrelizumab + apatinib trial.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Store schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
err = Console(stderr=True)


def _ledger(settings: Settings):  # type: ignore[no-untyped-def]
    from services.application import TrialLedger

    return TrialLedger(settings, create_engine(settings.database))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration to the store named by TRIAL_LEDGER_DATABASE_URL."""
    settings = Settings()
    upgrade(settings.database_url)
    err.print(f"schema up to date on {settings.database.kind}")


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="site_coordinator, investigator, monitor, "
                                           "data_manager, auditor or admin")],
    site: Annotated[list[str] | None, typer.Option(help="A site the user works for "
                                                        "(repeatable).")] = None,
    full_name: Annotated[str, typer.Option(help="Printed name shown on signatures.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input."
                                                 )] = False,
) -> None:
    """Create an account (the first admin comes from here)."""
    from services.accounts import add_user
    from services.application import Actor

    settings = Settings()
    upgrade(settings.database_url)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass()
    ledger = _ledger(settings)
    try:
        account = add_user(ledger, username=name, role=role, sites=list(site or []),
                           full_name=full_name or name, password=password,
                           by=Actor(f"cli:{getpass.getuser()}", "system"))
    except DomainError as error:
        err.print(f"[red]not created:[/red] {error.message}")
        raise typer.Exit(2) from None
    err.print(f"created {account.username} ({account.account_role})")


@app.command()
def verify(
    head: Annotated[str | None, typer.Option(help="A head hash kept earlier; the log must "
                                                  "still contain it.")] = None,
) -> None:
    """Recompute the hash chain from the stored bytes; exit 1 at the first bad position."""
    from infra.ledger.store import LedgerStore
    from infra.ledger.verify import verify_ledger

    settings = Settings()
    report = verify_ledger(LedgerStore(create_engine(settings.database)), expected_head=head)
    typer.echo(json.dumps(report.as_dict(), indent=2))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Seed a synthetic demo trial into an empty store."
                                       )] = False,
) -> None:
    """Apply migrations to the store and serve the API."""
    import uvicorn

    from services.api.app import create_app

    settings = Settings()
    upgrade(settings.database_url)
    if demo:
        from services.demo import ensure_demo

        ensure_demo(settings, err)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None,
                access_log=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
