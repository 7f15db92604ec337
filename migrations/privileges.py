"""What the service's PostgreSQL runtime role may do, granted by the migrations (as the owner).

History tables get SELECT and INSERT only: no UPDATE, DELETE, TRUNCATE, REFERENCES or
TRIGGER, and never ownership, so the role cannot alter, disable or drop their append-only
triggers, nor set `session_replication_role` (superuser only). Read models, which a rebuild
replaces, get SELECT, INSERT, UPDATE and DELETE. A migration that adds a table grants it here.
Everything is idempotent: roles are cluster-wide and many databases share one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from alembic import context, op

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def runtime_role() -> str:
    """The role named by the caller (`upgrade(..., runtime_role=)`) or by the settings."""
    name = context.config.attributes.get("runtime_role")
    if name is None:
        from infra.settings import get_settings

        name = get_settings().runtime_role
    if not ROLE_NAME.match(name):
        raise ValueError(f"runtime role {name!r} is not a plain lower-case SQL identifier")
    return str(name)


def applies() -> bool:
    """Grants apply on PostgreSQL, unless the runtime role is the migrating role itself (a
    single-role setup: the service keeps the owner's rights, as before this revision)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bind.exec_driver_sql("SELECT current_user").scalar() != runtime_role()


def ensure_runtime_role() -> None:
    """Create the runtime role (NOLOGIN) unless it exists; a concurrent creator may win."""
    role = runtime_role()
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
                BEGIN
                    CREATE ROLE {role} NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
            END IF;
        END
        $$
    """)


def _grant(tables: Iterable[str], privileges: str) -> None:
    role = runtime_role()
    for table in tables:
        op.execute(f"REVOKE ALL ON TABLE {table} FROM {role}")
        op.execute(f"GRANT {privileges} ON TABLE {table} TO {role}")


def grant_append_only(tables: Iterable[str]) -> None:
    """History: the role may read and add rows, nothing else."""
    _grant(tables, "SELECT, INSERT")


def grant_read_write(tables: Iterable[str]) -> None:
    """Rebuildable state (read models, positions): read and write rows; no DDL, no TRUNCATE."""
    _grant(tables, "SELECT, INSERT, UPDATE, DELETE")


def grant_read_only(tables: Iterable[str]) -> None:
    _grant(tables, "SELECT")


def grant_sequences(sequences: Iterable[str]) -> None:
    """nextval() for serial columns (identity columns need no grant)."""
    role = runtime_role()
    for sequence in sequences:
        op.execute(f"REVOKE ALL ON SEQUENCE {sequence} FROM {role}")
        op.execute(f"GRANT USAGE ON SEQUENCE {sequence} TO {role}")
