"""The sliding-window throttle and the event budget, on a clock the test moves."""

from __future__ import annotations

import pytest

from infra.security.throttle import SWEEP_EVERY, EventBudget, Limit, Throttle, Throttled

THREE_PER_MINUTE = Limit(3, 60)


def test_a_key_is_refused_at_its_limit_until_the_oldest_attempt_leaves_the_window() -> None:
    throttle = Throttle()
    for at in (0.0, 10.0, 20.0):
        throttle.attempt({"address:a": THREE_PER_MINUTE}, at)
    with pytest.raises(Throttled) as refused:
        throttle.attempt({"address:a": THREE_PER_MINUTE}, 30.5)
    assert (refused.value.key, refused.value.retry_after) == ("address:a", 30)
    throttle.attempt({"address:b": THREE_PER_MINUTE}, 30.5)  # other keys are their own
    throttle.attempt({"address:a": THREE_PER_MINUTE}, 60.0)  # the attempt at 0 slid out


def test_a_refused_attempt_counts_under_no_key_and_the_longest_wait_is_given() -> None:
    throttle = Throttle()
    one_per_ten = Limit(1, 10)
    throttle.attempt({"username:x": one_per_ten}, 0.0)
    throttle.attempt({"address:a": Limit(1, 100)}, 0.0)
    with pytest.raises(Throttled) as refused:
        throttle.attempt({"address:a": Limit(1, 100), "username:x": one_per_ten}, 5.0)
    assert (refused.value.key, refused.value.retry_after) == ("address:a", 95)
    throttle.attempt({"username:x": one_per_ten}, 10.0)  # the refusal above counted nothing


def test_forgiven_attempts_leave_the_window() -> None:
    throttle = Throttle()
    for at in range(10):
        attempt = throttle.attempt({"address:a": THREE_PER_MINUTE}, float(at))
        throttle.forgive(attempt)


def test_idle_keys_are_swept_away() -> None:
    throttle = Throttle()
    for n in range(SWEEP_EVERY - 1):
        throttle.attempt({f"username:{n}": THREE_PER_MINUTE}, 0.0)
    throttle.attempt({"username:late": THREE_PER_MINUTE}, 61.0)
    assert list(throttle._hits) == ["username:late"]


def test_the_budget_counts_what_it_turned_away_into_the_next_event() -> None:
    budget = EventBudget()
    assert [budget.take(Limit(2, 60), at) for at in (0.0, 1.0, 2.0, 3.0)] == [0, 0, None, None]
    assert budget.take(Limit(2, 60), 60.5) == 2
    assert budget.take(Limit(2, 60), 61.5) == 0
