"""The `trial-ledger` command line."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from domain.errors import DomainError
from infra.db import create_engine
from infra.migrate import upgrade_store
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


def _refuse_exposed_secrets(settings: Settings) -> None:
    """Exit 2 with one line naming the file and the fix if others could read a secret."""
    from infra.secret_files import InsecureSecretFile

    try:
        settings.check_secret_files()
    except InsecureSecretFile as error:
        err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration as the schema owner (TRIAL_LEDGER_MIGRATION_DATABASE_URL,
    else TRIAL_LEDGER_DATABASE_URL), granting the runtime role what the service needs."""
    settings = Settings()
    upgrade_store(settings)
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
    upgrade_store(settings)
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


Reason = Annotated[str, typer.Option(help="Why (required; kept in the ledger).")]


def _change_account(name: str, change: Any) -> None:
    """One account command as the operator at the console (e.g. unlock the last admin)."""
    from domain.ledger_event import Author
    from services.accounts import change_account

    settings = Settings()
    upgrade_store(settings)
    try:
        account = change_account(_ledger(settings), name,
                                 lambda a: change(a, Author(f"cli:{getpass.getuser()}", "system")))
    except DomainError as error:
        err.print(f"[red]not changed:[/red] {error.message}", highlight=False)
        raise typer.Exit(2) from None
    view = account.public_view()
    err.print(f"{name}: role {view['role']}, active {view['active']}, locked {view['locked']}")


@users_app.command("lock")
def users_lock(name: str, reason: Reason) -> None:
    """Lock an account: it cannot sign in and its tokens stop working."""
    _change_account(name, lambda a, by: a.lock(by, reason))


@users_app.command("unlock")
def users_unlock(name: str, reason: Reason) -> None:
    """Unlock an account (also after five failed sign-ins)."""
    _change_account(name, lambda a, by: a.unlock(by, reason))


@users_app.command("deactivate")
def users_deactivate(name: str, reason: Reason) -> None:
    """Close an account for good; the username is never reused."""
    _change_account(name, lambda a, by: a.deactivate(by, reason))


@users_app.command("grant")
def users_grant(name: str, role: Annotated[str, typer.Option(help="The new role.")],
                reason: Reason) -> None:
    """Grant a role, replacing the account's current one."""
    _change_account(name, lambda a, by: a.grant_role(role, by, reason))


@app.command()
def verify(
    head: Annotated[str | None, typer.Option(help="A head hash kept earlier; the log must "
                                                  "still contain it.")] = None,
    checkpoint: Annotated[str | None, typer.Option(
        help="A checkpoint saved from GET /api/v1/ledger/checkpoints/latest and kept outside "
             "the store: check its signature, re-derive its root from the stored events, "
             "prove the log extends it.")] = None,
    read_models: Annotated[bool, typer.Option(
        "--read-models", help="Also rebuild every read model from the log in a scratch store "
                              "and compare state hashes with the live ones.")] = False,
) -> None:
    """Recompute the hash chain from the stored bytes and check the log against every signed
    checkpoint the store holds; exit 1 at the first bad position or leaf. Prints the JSON
    report on stdout and one line per check (what it proved, and its limits) on stderr.
    Read only: nothing is written to the store."""
    from infra.ledger.store import LedgerStore
    from infra.ledger.verification import verify_store

    settings = Settings()
    store = LedgerStore(create_engine(settings.database))
    result = verify_store(store, settings, expected_head=head)
    if checkpoint is not None:
        from infra.ledger.checkpoints import check_checkpoint_file

        try:
            result.external = check_checkpoint_file(store, settings, checkpoint)
        except ValueError as error:
            err.print(f"checkpoint not checked: {error}", markup=False, style="red")
            raise typer.Exit(2) from None
    if read_models:
        from projections.verify_models import verify_read_models

        result.read_models = verify_read_models(_ledger(settings), store.engine)
    typer.echo(json.dumps(result.as_dict(), indent=2))
    for line in result.lines():
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Seed a synthetic demo trial into an empty store."
                                       )] = False,
    no_worker: Annotated[bool, typer.Option(
        "--no-worker", help="Do not run the projection worker and checkpoint schedule in this "
                            "process (when `trial-ledger project` runs separately).")] = False,
    checkpoint_every: Annotated[float, typer.Option(
        help="Seconds between signed checkpoints while the log grows (0: none).")] = 60.0,
) -> None:
    """Apply migrations to the store (as the schema owner) and serve the API; unless
    --no-worker, also run the projection worker (read models, signed checkpoints) in
    background threads of this process."""
    import uvicorn

    from services.api.app import create_app

    settings = Settings()
    _refuse_exposed_secrets(settings)
    upgrade_store(settings)
    if demo:
        from services.demo import ensure_demo

        ensure_demo(settings, err)
    if not no_worker:
        from projections.worker import BackgroundWorker

        BackgroundWorker(settings, checkpoint_every=checkpoint_every).start()
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None,
                access_log=False, server_header=False)


@app.command()
def endpoints(
    criteria: Annotated[str, typer.Option(help="RECIST 1.1 or mRECIST.")],
    cutoff: Annotated[str, typer.Option(help="Clinical cutoff date, YYYY-MM-DD, or the name of "
                                             "a cutoff declared by a data manager.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Recorded time (RFC 3339): "
                                              "answer as the system knew it then.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON body instead."
                                          )] = False,
) -> None:
    """ORR, DCR, DOR, PFS and OS at a clinical cutoff, as GET /api/v1/endpoints gives them."""
    from datetime import UTC, date, datetime

    from domain.outcomes import study_endpoints
    from domain.protocol import CRITERIA
    from infra.ledger.chain import format_recorded_at

    ledger = _ledger(Settings())
    try:
        if criteria not in CRITERIA:
            raise ValueError(f"--criteria must be {' or '.join(CRITERIA)}, not {criteria!r}")
        try:
            cutoff_on = date.fromisoformat(cutoff)
        except ValueError:
            declared = ledger.declared_cutoff(cutoff)
            if declared is None:
                raise ValueError(f"--cutoff {cutoff!r} is neither a date (YYYY-MM-DD) nor a "
                                 "declared cutoff (GET /api/v1/study lists them)") from None
            cutoff_on = declared
        moment = datetime.now(UTC)
        if as_of is not None:
            moment = datetime.fromisoformat(as_of)
            if moment.tzinfo is None:
                raise ValueError(f"--as-of {as_of!r} needs a zone, e.g. 2026-03-03T14:00:00Z")
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    recorded = None if as_of is None else format_recorded_at(moment)
    participants = [ledger.participant(pid, as_of=recorded)
                    for pid, _ in ledger.participant_ids(as_of=recorded)]
    report = study_endpoints(participants, criteria, cutoff_on, moment)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print(_endpoints_table(report))


def _endpoints_table(report: dict[str, Any]) -> Table:
    """The endpoints body as a rich table: NR = not reached, CIs are exact or Brookmeyer-Crowley."""
    def pct(rate: float | None) -> str:
        return "-" if rate is None else f"{100 * rate:.1f}%"

    def ci(bounds: list[float | None] | None, show: Any) -> str:
        if bounds is None:
            return "-"
        low, high = ("NR" if b is None else show(b) for b in bounds)
        return f"{low} to {high}"

    table = Table(title=f"{report['criteria']} endpoints at cutoff {report['cutoff']} "
                        f"(as of {report['as_of']})")
    for column in ("measure", "value", "95% CI"):
        table.add_column(column)
    pop = report["population"]
    table.add_row("enrolled / treated / evaluable",
                  f"{pop['enrolled']} / {pop['treated']} / {pop['evaluable']}", "")
    for code, count in report["best_overall_response"].items():
        table.add_row(f"best overall response {code}", str(count), "")
    for label, name, key in (("ORR (CR+PR)", "orr", "responders"),
                             ("DCR (CR+PR+SD)", "dcr", "count")):
        block = report[name]
        table.add_row(label, f"{block[key]}/{block['n']} = {pct(block['rate'])}",
                      ci(block["ci95"], pct))
    for name in ("dor", "pfs", "os"):
        block = report[name]
        months = block["median_months"]
        table.add_row(f"{name.upper()} median (events {block['events']}, "
                      f"censored {block['censored']})",
                      "NR" if months is None else f"{months} mo",
                      ci(block["ci95"], lambda b: f"{b} mo"))
        for landmark in (6, 12):
            rate = block.get(f"rate_{landmark}m")
            if rate is not None:
                band = rate["ci95"] if any(b is not None for b in rate["ci95"]) else None
                table.add_row(f"{name.upper()} rate at {landmark} months",
                              pct(rate["estimate"]), ci(band, pct))
    return table


@app.command("seed")
def seed_command(
    participants: Annotated[int, typer.Option(min=1, max=5000,
                                              help="How many participants to enroll.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed: the same participants and seed "
                                           "give the same trial.")] = 2026,
) -> None:
    """Record a deterministic synthetic trial (demo data) into an empty store."""
    from services.demo import print_demo_accounts, seeding_progress
    from services.seed import StoreNotEmpty, seed_trial

    settings = Settings()
    upgrade_store(settings)
    ledger = _ledger(settings)
    err.print(f"seeding {participants} synthetic participants (seed {seed})...")
    try:
        with seeding_progress(err) as progress:
            summary = seed_trial(ledger, participants=participants, seed=seed,
                                 progress=progress)
    except StoreNotEmpty as error:
        err.print(f"[red]not seeded:[/red] {error}")
        raise typer.Exit(2) from None
    finally:
        ledger.close()
    for line in summary.lines():
        err.print(line, markup=False)
    print_demo_accounts(err)


@app.command()
def project(
    once: Annotated[bool, typer.Option(help="Catch up and exit instead of following the log."
                                       )] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls when idle.")] = 1.0,
    batch: Annotated[int, typer.Option(help="Events applied per transaction.")] = 500,
    checkpoint_every: Annotated[float, typer.Option(
        help="Seconds between signed checkpoints while the log grows (0: none).")] = 60.0,
) -> None:
    """Follow the log and keep every read model up to date (exactly once per event); sign a
    checkpoint of the ledger periodically."""
    import signal
    import threading

    from infra.ledger.checkpoints import checkpoint_periodically
    from projections.runner import Projector

    settings = Settings()
    _refuse_exposed_secrets(settings)
    upgrade_store(settings)
    ledger = _ledger(settings)
    projector = Projector(ledger, ledger.store.engine)
    if once:
        err.print(f"applied {projector.catch_up(limit=batch)} events")
        return
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if checkpoint_every > 0:
        threading.Thread(target=checkpoint_periodically, daemon=True,
                         args=(ledger.store.engine, settings, stopping, checkpoint_every)).start()
    err.print("projecting; Ctrl-C to stop")
    try:
        while not stopping.is_set():
            if projector.run_batch(batch).applied == 0:
                stopping.wait(interval)
    except KeyboardInterrupt:
        stopping.set()


@app.command()
def rebuild() -> None:
    """Rebuild every read model from position 0 into a fresh generation, then switch over."""
    from rich.progress import Progress

    from projections.state import rebuild as rebuild_projections
    from projections.state import state_hashes

    settings = Settings()
    upgrade_store(settings)
    ledger = _ledger(settings)
    engine = ledger.store.engine
    total = ledger.store.count()
    with Progress(console=err) as progress:
        task = progress.add_task("rebuilding projections", total=total)
        generation = rebuild_projections(ledger, engine,
                                         progress=lambda n: progress.advance(task, n))
    for row in state_hashes(engine).values():
        typer.echo(f"{row['name']}: generation {generation}, position {row['position']}, "
                   f"{row['rows']} rows, state {row['state_hash']}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
