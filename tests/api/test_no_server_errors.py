"""No input gets a 5xx: odd times, odd tokens, chunked bodies, and a schemathesis run over the
whole OpenAPI document (valid and invalid requests, signed in as a data manager and as an
admin) on both stores, in-process through the ASGI app."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from domain.account import Account
from infra.security.tokens import ALGORITHM, ISSUER, issue_token
from services.app import create_app
from services.application import Actor
from tests import story
from tests.api.conftest import PASSWORD_HASH, USERS, Api

PID = "HCC-01-050"
EXAMPLES_PER_OPERATION_AND_MODE = 18
CHECKS = [not_a_server_error, response_schema_conformance]
NOT_YET_FUZZED: frozenset[str] = frozenset()
"""Operations left out of the fuzzing run (none)."""


def test_as_of_beyond_the_calendar_is_refused_not_a_server_error(api: Api) -> None:
    for as_of in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        before = api.ledger_state()
        response = api.get("/api/v1/participants", user="dm", as_of=as_of)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == "query.as_of"
        assert api.ledger_state() == before


def test_an_as_of_whose_plus_became_a_space_says_to_url_encode_it(api: Api) -> None:
    response = api.client.get("/api/v1/participants?as_of=2026-03-03T14:00:00+00:00",
                              headers=api.headers("dm"))
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"] == "query.as_of" and "%2B" in error["msg"]


def test_an_as_of_before_year_1000_is_not_read_as_the_present(api: Api) -> None:
    assert api.post(PID, story.enrollment()).status_code == 201
    early = api.get("/api/v1/participants", user="dm", as_of="0999-01-01T00:00:00Z")
    assert early.status_code == 200 and early.json()["participants"] == []


def _signed(api: Api, **claims: Any) -> str:
    secret = api.client.app.state.secrets.token_secret  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    payload = {"iss": ISSUER, "sub": "dm", "role": "data_manager", "av": 1,
               "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp()),
               "jti": uuid.uuid4().hex, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret,
                      algorithm=ALGORITHM)


@pytest.mark.parametrize("claims", [
    {"av": None}, {"av": "one"}, {"av": True}, {"av": 1.5}, {"role": None}, {"sub": 7},
    {"sub": ["dm"]}, {"jti": None}, {"exp": 10 ** 20},
], ids=["no av", "av text", "av bool", "av float", "no role", "sub int", "sub list", "no jti",
        "exp out of range"])
def test_a_well_signed_token_with_bad_claims_gets_401(api: Api, claims: dict[str, Any]) -> None:
    response = api.client.get("/api/v1/participants",
                              headers={"Authorization": f"Bearer {_signed(api, **claims)}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_chunked_body_over_the_limit_gets_413(api: Api) -> None:
    assert api.post(PID, story.enrollment()).status_code == 201
    before = api.ledger_state()

    def chunks() -> Iterator[bytes]:
        yield b'{"type": "TACEPerformed", "occurred_on": "2026-01-14", "reason": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'", "data": {}}'

    response = api.client.post(f"/api/v1/participants/{PID}/events", content=chunks(),
                               headers=api.headers("coord1", **{"content-type":
                                                                "application/json"}))
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "larger than 65536 bytes" in response.json()["detail"]
    assert api.ledger_state() == before


def test_a_chunked_body_under_the_limit_is_read_whole(api: Api) -> None:
    body = b'{"type": "ParticipantEnrolled", "occurred_on": "2026-01-10", "data": '
    enrolment = story.enrollment()["data"]
    import json

    response = api.client.post(
        f"/api/v1/participants/{PID}/events",
        content=iter([body, json.dumps(enrolment).encode(), b"}"]),
        headers=api.headers("coord1", **{"content-type": "application/json"}))
    assert response.status_code == 201, response.text


# -- the whole OpenAPI document --------------------------------------------------------------


@pytest.fixture
def app(settings: Any) -> Iterator[FastAPI]:
    """The real app with the fixture accounts and one participant, driven by schemathesis's
    in-process ASGI client (its lifespan is stopped at the end)."""
    app = create_app(settings, configure_logs=False)
    ledger = app.state.ledger
    for username, (role, sites) in USERS.items():
        ledger.create_account(Account.create(
            username=username, full_name=username.title(), role=role, sites=sites,
            password_hash=PASSWORD_HASH, event_id=str(uuid.uuid4()), actor="setup",
            actor_role="system"))
    from tests.integration.conftest import submission

    for body in (story.enrollment(), story.camrelizumab("2026-01-12"),
                 story.adverse_event("AE1", "2026-01-20")):
        ledger.record_participant_event(PID, submission(body),
                                        Actor("coord1", "site_coordinator", "Coord1", ("S01",)))
    yield app
    asgi.shutdown_lifespans()


def _bearer(app: FastAPI, username: str) -> dict[str, str]:
    """A fresh token for the account as it stands (a fuzzed call may have changed it)."""
    account = app.state.ledger.account(username)
    token, _ = issue_token(app.state.secrets.token_secret, username=username,
                           role=account.account_role or "none",
                           account_version=account.credentials_version,
                           ttl=timedelta(minutes=5))
    return {"Authorization": f"Bearer {token}"}


def _caller(path: str) -> str:
    """Who calls: an admin for account administration, a data manager for the rest, and
    for one's own password change an account whose lockout stops nothing else here."""
    if path == "/api/v1/accounts/me/password":
        return "monitor1"
    return "admin" if path.startswith("/api/v1/accounts") else "dm"


def _strategy(operation: Any, mode: GenerationMode) -> st.SearchStrategy[Any]:
    """Cases for one operation; half of them name the existing participant or account, so
    that calls reach past the 404 into the rules."""
    known = {"participant_id": PID, "username": "coord1"}
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in known.items() if name in names}
    strategies = [operation.as_strategy(generation_mode=mode)]
    if fixed:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    return st.one_of(strategies)


def _fuzz(app: FastAPI, operation: Any, mode: GenerationMode, statuses: Counter[int],
          failures: list[str]) -> None:
    """Send one operation's generated cases; count statuses, collect every check failure."""
    user = _caller(operation.path)

    @settings(max_examples=EXAMPLES_PER_OPERATION_AND_MODE, deadline=None, derandomize=True,
              database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=_strategy(operation, mode))
    def call(case: Any) -> None:
        headers = _bearer(app, user)
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as failure:  # noqa: BLE001  (every failure is reported by the test)
            failures.append(f"{operation.label} [{mode.value}] {response.status_code}: "
                            f"{str(failure)[:1500]}")

    try:
        call()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters


@pytest.mark.slow
def test_no_request_the_openapi_document_allows_or_forbids_gets_a_server_error(
        app: FastAPI) -> None:
    """Checks: schemathesis's not_a_server_error and response_schema_conformance (every 4xx
    is documented as problem+json, so refusals are checked against the Problem schema too)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        if result.ok().label in NOT_YET_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(app, result.ok(), mode, statuses, failures)
    total = sum(statuses.values())
    assert total >= 1000, statuses
    assert not failures, "\n\n".join(failures[:20]) + f"\n\n{len(failures)} failures; {statuses}"
    assert not [code for code in statuses if code >= 500], statuses
