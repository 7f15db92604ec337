"""The `trial-ledger` command line.

Each command reads its settings once (`get_settings`). A command that writes migrates the store
(`migrate`); one that signs or records participants also takes the secrets step
(`writing`: `ensure_secrets`). A read-only command (`reading`) opens the store as it is: it
neither migrates it nor creates a secret, and an unmigrated store is refused (exit 3).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from infra.db import create_engine
from infra.logging import configure_logging
from infra.settings import Settings, get_settings
from services.cli_errors import EXIT_CODES_HELP, PLAIN_HELP, CliFailure, ExitCode, FailCleanly
from services.cli_exports import export_app
from services.cli_import import import_app
from services.cli_store import err, ledger_of, migrate, reading, refuse_exposed_secrets, writing
from services.cli_users import study_app, users_app

app = typer.Typer(cls=FailCleanly, add_completion=False, pretty_exceptions_enable=False,
                  help="Event-sourced audit ledger for the TACE + camrelizumab + apatinib "
                       "trial.", epilog=EXIT_CODES_HELP, **PLAIN_HELP)
db_app = typer.Typer(help="Store schema.", **PLAIN_HELP)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(study_app, name="study")
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration as the schema owner (TRIAL_LEDGER_MIGRATION_DATABASE_URL,
    else TRIAL_LEDGER_DATABASE_URL), granting the runtime role what the service needs; creates
    a SQLite store that does not exist yet."""
    settings = get_settings()
    migrate(settings)
    err.print(f"schema up to date on {settings.database.kind}")


def _check_signing_key(settings: Settings, engine: Any) -> None:
    """CliFailure (configuration) if stored checkpoints cannot be authenticated because the
    key is missing or unusable: a misconfiguration, not evidence of tampering."""
    from infra.ledger.checkpoints import (
        KEY_FILE_NAME,
        configured_public_key,
        stored_checkpoint_count,
    )

    path = settings.signing_key_path()
    if settings.signing_key_file is not None and not path.exists():
        raise CliFailure(ExitCode.CONFIGURATION,
                         f"TRIAL_LEDGER_SIGNING_KEY_FILE {path} does not exist; fix: point it at "
                         "the service's checkpoint key, or unset it")
    if configured_public_key(settings) is not None:  # SigningKeyError: exit 2 (FailCleanly)
        return
    stored = stored_checkpoint_count(engine)
    if stored:
        raise CliFailure(ExitCode.CONFIGURATION,
                         f"the store holds {stored} signed checkpoints but there is no signing "
                         f"key at {path}; fix: set TRIAL_LEDGER_SECRETS_DIR (or "
                         f"TRIAL_LEDGER_SIGNING_KEY_FILE) to where the service keeps "
                         f"{KEY_FILE_NAME}")


@app.command(epilog=EXIT_CODES_HELP)
def verify(
    head: Annotated[str | None, typer.Option(metavar="HEX", help="A head hash kept earlier; the log must "
                                                  "still contain it.")] = None,
    checkpoint: Annotated[str | None, typer.Option(
        metavar="FILE", help="A checkpoint saved from GET /api/v1/ledger/checkpoints/latest and kept outside "
             "the store: check its signature, re-derive its root from the stored events, "
             "prove the log extends it.")] = None,
    read_models: Annotated[bool, typer.Option(
        "--read-models", help="Also rebuild every read model from the log in a scratch store "
                              "and compare state hashes with the live ones.")] = False,
) -> None:
    """Recompute the hash chain from the stored bytes and check the log against every signed
    checkpoint the store holds; exit 1 at the first bad position or leaf. Prints the JSON
    report on stdout and one line per check (what it proved, and its limits) on stderr.

    Read only: the store is opened read-only and must exist at the current schema; nothing
    is created, migrated or written. A store that cannot be checked (configuration, no store,
    unreachable, not migrated) is one line on stderr and exit 2 or 3, never 1."""
    from infra.ledger.store import LedgerStore
    from infra.ledger.verification import verify_store

    settings = reading()
    refuse_exposed_secrets(settings)
    store = LedgerStore(create_engine(settings.database))
    _check_signing_key(settings, store.engine)
    result = verify_store(store, settings, expected_head=head)
    if checkpoint is not None:
        from infra.ledger.checkpoints import check_checkpoint_file

        try:
            result.external = check_checkpoint_file(store, settings, checkpoint)
        except ValueError as error:
            err.print(f"checkpoint not checked: {error}", markup=False, style="red")
            raise typer.Exit(ExitCode.CONFIGURATION) from None
    if read_models:
        from projections.verify_models import verify_read_models

        result.read_models = verify_read_models(ledger_of(settings), store.engine)
    typer.echo(json.dumps(result.as_dict(), indent=2))
    for line in result.lines():
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(ExitCode.OK if result.ok else ExitCode.VERIFICATION_FAILED)


@app.command()
def serve(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="TCP port.")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Seed a synthetic demo trial into an "
                                                      "empty store.")] = False,
    no_worker: Annotated[bool, typer.Option(
        "--no-worker", help="Do not run the projection worker and checkpoint schedule in this "
                            "process (when `trial-ledger project` runs separately).")] = False,
    checkpoint_every: Annotated[float, typer.Option(
        help="Seconds between signed checkpoints while the log grows (0: none).")] = 60.0,
    workers: Annotated[int, typer.Option(
        min=1, max=64, metavar="N",
        help="API processes serving the port (default 1). Each is stateless: it decides on "
             "what it reads and appends under the store's write lock, so any number of them "
             "(on any number of hosts, in front of one PostgreSQL) share one ledger.")] = 1,
) -> None:
    """Apply migrations to the store (as the schema owner) and serve the API; unless
    --no-worker, also run the projection worker (read models, signed checkpoints) in
    background threads of this process (with --workers N: of the process that supervises
    the N API processes, so there is one projection worker, not N)."""
    import uvicorn

    from services.app import create_served_app

    # this process' own lines (the worker's) as JSON
    configure_logging(get_settings().log_level)
    settings = writing()
    if demo:
        from services.demo import ensure_demo

        ensure_demo(settings, err)
    if not no_worker:
        from services.worker import BackgroundWorker

        BackgroundWorker(settings, checkpoint_every=checkpoint_every).start()
    address = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    processes = f" with {workers} API processes" if workers > 1 else ""
    err.print(f"trial-ledger: serving the {settings.database.kind} store at {address}"
              f"{processes} (API docs: {address}/docs; stop with Ctrl+C)", highlight=False,
              soft_wrap=True)
    if workers > 1:
        # Each API process builds its app from the same environment (settings are read from
        # it, never passed), after the migrations above.
        uvicorn.run("services.app:create_served_app", factory=True, workers=workers, host=host,
                    port=port, log_config=None, access_log=False, server_header=False)
        return
    uvicorn.run(create_served_app(settings), host=host, port=port, log_config=None,
                access_log=False, server_header=False)


@app.command()
def endpoints(
    criteria: Annotated[str, typer.Option(metavar="CRITERIA", help="RECIST 1.1 or mRECIST.")],
    cutoff: Annotated[str, typer.Option(metavar="DATE|NAME", help="Clinical cutoff date, YYYY-MM-DD, or the name of "
                                             "a cutoff declared by a data manager.")],
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="TIME", help="Recorded time (RFC 3339): "
                                              "answer as the system knew it then.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON body instead."
                                          )] = False,
) -> None:
    """ORR, DCR, DOR, PFS and OS at a clinical cutoff, as GET /api/v1/endpoints gives them.
    Each interval names its method: Clopper-Pearson (exact) for ORR and DCR, Kaplan-Meier
    log-log bands with Brookmeyer-Crowley limits for medians. Read only."""
    from datetime import UTC, date, datetime

    from domain.protocol import CRITERIA
    from domain.study_reports import study_endpoints
    from infra.ledger.chain import format_recorded_at
    from services.cli_output import endpoints_table

    ledger = ledger_of(reading())
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
        raise typer.Exit(ExitCode.CONFIGURATION) from None
    recorded = None if as_of is None else format_recorded_at(moment)
    participants = [ledger.participant(pid, as_of=recorded)
                    for pid, _ in ledger.participant_ids(as_of=recorded)]
    report = study_endpoints(participants, criteria, cutoff_on, moment)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        Console().print(endpoints_table(report))


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

    settings = writing()
    ledger = ledger_of(settings)
    err.print(f"seeding {participants} synthetic participants (seed {seed})...")
    try:
        with seeding_progress(err) as progress:
            summary = seed_trial(ledger, participants=participants, seed=seed,
                                 progress=progress)
    except StoreNotEmpty as error:
        err.print(f"[red]not seeded:[/red] {error}")
        raise typer.Exit(ExitCode.CONFIGURATION) from None
    finally:
        ledger.close()
    for line in summary.lines():
        err.print(line, markup=False)
    print_demo_accounts(err)


@app.command()
def project(
    once: Annotated[bool, typer.Option("--once", help="Catch up and exit instead of following "
                                                      "the log.")] = False,
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
    from services.monitoring.runner import ReactionRunner
    from services.monitoring.runner import follow as react

    settings = writing()
    ledger = ledger_of(settings)
    projector = Projector(ledger, ledger.store.engine)
    reactions = ReactionRunner(ledger, ledger.store.engine)  # edit checks: system queries
    if once:
        reactions.catch_up()  # first, so what the reactions record is projected too
        err.print(f"applied {projector.catch_up(limit=batch)} events")
        return
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if checkpoint_every > 0:
        threading.Thread(target=checkpoint_periodically, daemon=True,
                         args=(ledger.store.engine, settings, stopping, checkpoint_every)).start()
    threading.Thread(target=react, daemon=True, args=(reactions, stopping),
                     kwargs={"interval": interval}).start()
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

    settings = writing()
    ledger = ledger_of(settings)
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
