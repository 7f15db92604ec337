"""Sliding-window limits on sign-in attempts, checked before any password is hashed.

`Throttle.attempt` admits an attempt only if every key it counts under (a client address, a
typed username) has had fewer than its limit of attempts in the last window; otherwise it
raises `Throttled` with the seconds until the oldest attempt leaves the window (the
`Retry-After`). An attempt that turns out to succeed is `forgive`n, so only failures fill the
window and many people signing in from one address are never held up.

The windows live in this process's memory. With several API processes each keeps its own, so
the effective limit is the configured one times the number of processes; the durable control
is the store-based lockout of the account (domain/account.py), which every process shares.
Times are plain seconds from the caller's clock, so tests can move time forward.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

SWEEP_EVERY = 1024
"""Drop idle keys every this many attempts, so memory follows the window, not the history."""


@dataclass(frozen=True)
class Limit:
    """At most `attempts` in any `window_seconds`."""

    attempts: int
    window_seconds: float


class Throttled(Exception):
    """Too many recent attempts under `key`; try again in `retry_after` seconds."""

    def __init__(self, key: str, retry_after: int) -> None:
        super().__init__(f"too many attempts for {key}; retry after {retry_after} s")
        self.key = key
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """An admitted attempt: the time it was counted at, under which keys."""

    at: float
    keys: tuple[str, ...]


@dataclass
class Throttle:
    """Per-key sliding windows, safe to share between request threads."""

    _hits: dict[str, deque[float]] = field(default_factory=dict)
    _windows: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _since_sweep: int = 0

    def attempt(self, limits: Mapping[str, Limit], now: float) -> Attempt:
        """Count one attempt under every key, or raise Throttled (counting nothing)."""
        with self._lock:
            self._sweep(now)
            wait = 0.0
            blocked = ""
            for key, limit in limits.items():
                hits = self._recent(key, limit.window_seconds, now)
                if len(hits) >= limit.attempts:
                    until = (hits[0] if limit.attempts else now) + limit.window_seconds
                    if until - now > wait:
                        wait, blocked = until - now, key
            if blocked:
                raise Throttled(blocked, max(1, math.ceil(wait)))
            for key, limit in limits.items():
                self._hits.setdefault(key, deque()).append(now)
                self._windows[key] = max(self._windows.get(key, 0.0), limit.window_seconds)
            return Attempt(now, tuple(limits))

    def forgive(self, attempt: Attempt) -> None:
        """Take a successful attempt back out of its windows."""
        with self._lock:
            for key in attempt.keys:
                hits = self._hits.get(key)
                if hits is not None and attempt.at in hits:
                    hits.remove(attempt.at)

    def _recent(self, key: str, window: float, now: float) -> deque[float]:
        hits = self._hits.get(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        for key in list(self._hits):
            if not self._recent(key, self._windows.get(key, 0.0), now):
                del self._hits[key]
                self._windows.pop(key, None)


@dataclass
class EventBudget:
    """At most `limit.attempts` recorded events per window; says how many were turned away
    since the last one it allowed, so the next recorded event can carry that count."""

    throttle: Throttle = field(default_factory=Throttle)
    _turned_away: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, limit: Limit, now: float) -> int | None:
        """None when the budget is spent (the event is turned away and counted); otherwise
        how many were turned away before this one (and the count starts again)."""
        with self._lock:
            try:
                self.throttle.attempt({"events": limit}, now)
            except Throttled:
                self._turned_away += 1
                return None
            turned_away, self._turned_away = self._turned_away, 0
            return turned_away
