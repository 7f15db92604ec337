"""`trial-ledger import odm FILE`: an ODM 1.3.2 archival file loaded into an empty store, the
migration path from another system (services/exports/odm_import.py). Every event is recorded
by the operator running the command, now; the file's audit record of each is kept inside it.
Prints a JSON summary on stdout."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.cli_errors import PLAIN_HELP, CliFailure, ExitCode
from services.cli_exports import opened_store

import_app = typer.Typer(help="Data brought into an empty ledger from another system.",
                         **PLAIN_HELP)
err = Console(stderr=True)


@import_app.command("odm")
def import_odm_file(
    file: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False,
                                         help="An ODM 1.3.2 Transactional file with its "
                                              "audit records: this ledger's (trial-ledger "
                                              "export odm), or another EDC's with --mapping.")],
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", exists=True, dir_okay=False,
        help="For another EDC's export of this CRF: the JSON file that maps its forms, "
             "groups, items, codes and users onto the catalogue (docs/exports/odm-import.md)."
    )] = None,
) -> None:
    """Load an ODM 1.3.2 archival file into an EMPTY store, as events recorded by you now,
    each keeping the file's audit record (user, role, site, time, reason, source id) as its
    provenance. Casebook signatures are not re-created (counted in the summary)."""
    from domain.errors import RuleViolation
    from services.application import Actor
    from services.exports.odm_import import ImportRefused, StoreNotEmpty, import_odm
    from services.exports.odm_mapping import MappingError, load_mapping

    operator = Actor(f"cli:{getpass.getuser()}", "system")
    try:
        resolved = load_mapping(mapping) if mapping is not None else None
    except MappingError as refusal:
        raise CliFailure(ExitCode.CONFIGURATION, str(refusal)) from None
    with opened_store() as ledger:
        try:
            result = import_odm(ledger, file, operator, mapping=resolved)
        except (ImportRefused, StoreNotEmpty) as refusal:
            raise CliFailure(ExitCode.CONFIGURATION, f"{file}: {refusal}") from None
        except RuleViolation as violation:
            raise CliFailure(ExitCode.CONFIGURATION,
                             f"{file}: an event was refused while importing ({violation}); "
                             "the store holds what was imported before it: start again "
                             "with an empty store") from None
    err.print(f"imported {result.events_imported} events of {result.participants} "
              f"participants from {file}; {result.signatures_not_recreated} casebook "
              "signatures not re-created", highlight=False, soft_wrap=True)
    typer.echo(json.dumps(result.as_dict(), indent=2))
