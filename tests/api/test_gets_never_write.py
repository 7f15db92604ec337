"""No GET under /api/v1 changes the store: not the log, the chain, the checkpoints, the Merkle
nodes, the read models nor their tracking rows, even when the read models are behind the log
and the log has grown past the latest checkpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from infra.db import DatabaseURL, create_engine
from tests import story
from tests.api.conftest import Api

READERS = ("auditor", "dm", "admin")


@pytest.fixture
def owner_engine(store_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(DatabaseURL.parse(store_url))
    yield engine
    engine.dispose()


def snapshot(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows."""
    out = {}
    with engine.connect() as conn:
        for table in sorted(sa.inspect(engine).get_table_names()):
            rows = sorted(repr(tuple(row)) for row in conn.execute(
                sa.text(f'SELECT * FROM "{table}"')))
            out[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def record_story(api: Api) -> dict[str, Any]:
    """A small trial; the worker ran once, then the log grew past its read models and its
    latest checkpoint."""
    first = api.post("HCC-01-001", story.enrollment()).json()
    dose = api.post("HCC-01-001", story.camrelizumab("2026-01-12", dose_mg=20)).json()
    api.post("HCC-01-002", story.enrollment(on="2026-01-11"))
    api.post("HCC-01-001", story.adverse_event("AE1", "2026-01-20", grade=2))
    api.client.app.state.projector.catch_up()  # type: ignore[attr-defined]
    issued = api.client.post("/api/v1/ledger/checkpoints", headers=api.headers("dm"))
    assert issued.status_code == 201, issued.text
    verified = api.client.post("/api/v1/participants/HCC-01-001/sdv", headers=api.headers(
        "monitor1"), json={"event_ids": [dose["event_id"]]})  # withdrawn pending, once corrected
    assert verified.status_code == 201, verified.text
    api.post("HCC-01-001", story.correction(dose["event_id"], "2026-01-13",
                                            story.camrelizumab("x")["data"],
                                            reason="wrong line"), user="dm")
    api.post("HCC-01-002", story.tace("2026-01-13"))
    exported = api.client.post("/api/v1/exports/odm", headers=api.headers("dm"))
    assert exported.status_code == 201, exported.text
    query = api.client.post("/api/v1/queries", headers=api.headers("monitor1"), json={
        "participant_id": "HCC-01-001", "event_id": dose["event_id"], "text": "20 mg?"})
    assert query.status_code == 201, query.text
    return {"participant_id": "HCC-01-001", "username": "dm",
            "event_id": first["event_id"], "first": 1,
            "export_id": exported.headers["x-export-id"],
            "query_id": query.json()["query_id"]}


def get_routes(api: Api) -> list[tuple[str, list[str]]]:
    """Every GET path under /api/v1 in the OpenAPI document, with its required parameters."""
    document = api.client.get("/openapi.json").json()
    return [(path, [p["name"] for p in ops["get"].get("parameters", []) if p.get("required")])
            for path, ops in document["paths"].items()
            if path.startswith("/api/v1/") and "get" in ops]


def test_no_get_under_api_v1_changes_any_table(api: Api, owner_engine: sa.Engine) -> None:
    values = record_story(api)
    routes = get_routes(api)
    assert len(routes) >= 15
    before = snapshot(owner_engine)
    answered: dict[str, list[int]] = {}
    for path, required in routes:
        url = path.format(**values)
        params = {name: values[name] for name in required if f"{{{name}}}" not in path}
        if path in ("/api/v1/endpoints", "/api/v1/endpoints/curves"):
            params["criteria"] = "mRECIST"
        variants = [params]
        if path == "/api/v1/ledger/verify":
            variants.append({**params, "read_models": "true"})
        if path == "/api/v1/audit-trail":
            variants.append({**params, "user": "dm", "participant_id": "HCC-01-001"})
        for variant in variants:
            for user in READERS:
                response = api.client.get(url, headers=api.headers(user), params=variant)
                answered.setdefault(path, []).append(response.status_code)
    assert {p for p, codes in answered.items() if 200 not in codes} == set(), answered
    assert all(code < 500 for codes in answered.values() for code in codes), answered
    assert snapshot(owner_engine) == before
