"""Merkle tree nodes and signed checkpoints, append-only on both stores.

`merkle_nodes` keeps the hash of every completed perfect subtree over the chain's leaves
(level 0 = leaf hashes, RFC 9162 §2.1), so roots and proofs for any tree size need O(log n)
lookups. `ledger_checkpoints` keeps every checkpoint issued: the signed body and its
Ed25519 signature (the private key is never in the database).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("merkle_nodes", "ledger_checkpoints")

POSTGRES = [
    """
    CREATE TABLE merkle_nodes (
        level smallint NOT NULL CHECK (level >= 0 AND level < 64),
        node_index bigint NOT NULL CHECK (node_index >= 0),
        hash bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, node_index)
    )
    """,
    """
    CREATE TABLE ledger_checkpoints (
        checkpoint_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        origin text NOT NULL,
        tree_size bigint NOT NULL CHECK (tree_size >= 0),
        root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
        issued_at timestamptz NOT NULL,
        key_id text NOT NULL,
        body text NOT NULL,
        signature bytea NOT NULL CHECK (length(signature) = 64)
    )
    """,
    "CREATE INDEX ledger_checkpoints_tree_size_idx ON ledger_checkpoints (tree_size)",
]

SQLITE = [
    """
    CREATE TABLE merkle_nodes (
        level INTEGER NOT NULL CHECK (level >= 0 AND level < 64),
        node_index INTEGER NOT NULL CHECK (node_index >= 0),
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, node_index)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE ledger_checkpoints (
        checkpoint_id INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
        root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
        issued_at TEXT NOT NULL,
        key_id TEXT NOT NULL,
        body TEXT NOT NULL,
        signature BLOB NOT NULL CHECK (length(signature) = 64)
    )
    """,
    "CREATE INDEX ledger_checkpoints_tree_size_idx ON ledger_checkpoints (tree_size)",
]


def _postgres_guards(table: str) -> list[str]:
    # ledger_refuse_change() comes from revision 0001.
    return [
        (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"),
        (f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"),
    ]


def _sqlite_guards(table: str) -> list[str]:
    return [
        (f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: UPDATE refused'); END"),
        (f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: DELETE refused'); END"),
    ]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    statements = list(POSTGRES if postgres else SQLITE)
    guard = _postgres_guards if postgres else _sqlite_guards
    for table in APPEND_ONLY_TABLES:
        statements += guard(table)
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError(
        "the Merkle nodes and issued checkpoints are never downgraded: auditors hold "
        "checkpoints that only these tables can name the first changed leaf against"
    )
