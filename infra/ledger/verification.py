"""What `trial-ledger verify` (and GET /api/v1/ledger/verify) proves, one check at a time.

- **chain** (always): every event's SHA-256 link is recomputed from its stored bytes, in leaf
  order from the genesis hash. Detects a changed byte of a stored event (state, topic,
  stream, version), a changed chain row (hash, place, recorded time), a deleted or inserted
  event or chain row, and names the first bad position. Cannot detect, on its own, a rewrite
  of an event together with every later chain link, nor a clean cut of the log's tail.
- **checkpoints** (always): every signed checkpoint the store holds is checked with the
  configured public key, its row against its signed body, and the Merkle root re-derived
  from the stored event bytes at its tree size against its signed root (one streaming pass
  for all of them); the leaves kept in the Merkle node table must hash to it too. Detects
  the full rewrite above (event bytes and every later chain link) of any event a stored
  checkpoint covers, naming the first rewritten leaf and its position, and a tail cut below
  the newest checkpoint's size. Cannot detect a rewrite or a cut of events appended after the
  newest stored checkpoint (the chain alone protects them until the next checkpoint), nor an
  attacker who also deletes the stored checkpoints that cover the rewrite.
- **head** (`--head HEX`): the log still contains a head hash kept outside the system.
  Detects a cut or rewrite of the log up to that head, even with the checkpoints deleted.
- **external checkpoint** (`--checkpoint FILE`): a signed checkpoint kept outside the
  store; its signature, its root re-derived from the stored events and the log's
  consistency with it. The strongest check: it defeats an attacker who also deletes or
  rewrites the stored checkpoints and the Merkle node table.
- **read models** (`--read-models`): every read model is rebuilt from the log into a scratch
  store and its state hash compared with the live one; names each read model (and its first
  row) that differs. Detects hand edits of the projection tables, e.g. a forged
  `audit_feed.recorded_by`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from infra.ledger.checkpoints import CheckpointReport, SigningKeyError, configured_public_key
from infra.ledger.store import LedgerStore
from infra.ledger.stored_checkpoints import StoredCheckpointsReport, verify_stored_checkpoints
from infra.ledger.verify import VerifyReport, verify_ledger
from infra.settings import Settings


class Check(Protocol):
    @property
    def ok(self) -> bool: ...

    def line(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


@dataclass
class Verification:
    chain: VerifyReport
    checkpoints: StoredCheckpointsReport
    head: str | None = None
    external: CheckpointReport | None = None
    read_models: Check | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self._checks())

    def _checks(self) -> list[Check]:
        extra = [c for c in (self.external, self.read_models) if c is not None]
        return [self.chain, self.checkpoints, *extra]

    def lines(self) -> list[str]:
        lines = [self.chain.line()]
        if self.head is not None and self.chain.ok:
            lines.append(f"head: the log still contains head {self.head}")
        lines += [check.line() for check in self._checks()[1:]]
        return lines + self.limits()

    def limits(self) -> list[str]:
        """What this run did not prove."""
        stored, size = self.checkpoints, self.checkpoints.log_size
        out = []
        if stored.ok and stored.newest_size is None:
            out.append("limits: no checkpoint is stored, so a rewrite of any event together "
                       "with every later chain link would pass")
        elif stored.ok and stored.newest_size is not None and stored.newest_size < size:
            out.append(f"limits: the {size - stored.newest_size} events after the newest "
                       f"checkpoint (leaves {stored.newest_size} to {size - 1}) are protected "
                       "by the chain alone: rewritten with their chain links, or cut from the "
                       "end, they would pass until the next checkpoint")
        if self.external is None and self.head is None:
            out.append("limits: without --checkpoint FILE or --head, a rewrite together with "
                       "the deletion of the stored checkpoints covering it would pass")
        return out

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.chain.as_dict(), "ok": self.ok,
                               "stored_checkpoints": self.checkpoints.as_dict()}
        if self.external is not None:
            out["checkpoint"] = self.external.as_dict()
        if self.read_models is not None:
            out["read_models"] = self.read_models.as_dict()
        return {**out, "checks": self.lines()}


def verify_store(store: LedgerStore, settings: Settings, *, expected_head: str | None = None
                 ) -> Verification:
    """The chain and every stored checkpoint (read only: nothing is written)."""
    chain = verify_ledger(store, expected_head=expected_head)
    try:
        key = configured_public_key(settings)
    except SigningKeyError as error:
        checkpoints = StoredCheckpointsReport(False, 0, None, chain.events, problem=str(error))
    else:
        checkpoints = verify_stored_checkpoints(store.engine, public_key=key,
                                                origin=settings.ledger_origin)
    return Verification(chain, checkpoints, expected_head)
