"""The examples a client developer copies are accepted as they stand: every event type's
example in the OpenAPI document posts with 201 in story order, every correction example
parses, and the files under docs/examples are the same bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from domain.events import CATALOGUE
from services.api.examples import PLACEHOLDER_EVENT_ID, STORY
from services.api.schemas import EventSubmission
from tests.api.conftest import Api

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples"
PID = "HCC-01-901"


def _document_examples(api: Api) -> dict[str, Any]:
    document = api.client.get("/openapi.json").json()
    body = document["paths"]["/api/v1/participants/{participant_id}/events"]["post"]
    examples: dict[str, Any] = body["requestBody"]["content"]["application/json"]["examples"]
    return examples


def test_every_event_type_has_an_example_and_a_correction_example(api: Api) -> None:
    examples = _document_examples(api)
    types = {e["value"]["type"] for e in examples.values()}
    corrected = {name.removeprefix("correct-") for name in examples if name.startswith("correct")}
    assert types == set(CATALOGUE)
    clinical = {name for name, body in STORY.items() if CATALOGUE[body["type"]].clinical}
    assert clinical <= corrected


def test_the_examples_post_in_story_order_and_corrections_take_effect(api: Api) -> None:
    examples = _document_examples(api)
    ids: dict[str, str] = {}
    for name in STORY:
        body = json.loads(json.dumps(examples[name]["value"]))
        if name in ("correction", "void"):
            target = "tace" if name == "correction" else "camrelizumab-dose"
            key = "corrects" if name == "correction" else "voids"
            body["data"][key] = ids[target]
        if name == "withdrawal":
            continue  # a withdrawn participant could not be shown dying on treatment here
        response = api.post(PID, body)
        assert response.status_code == 201, (name, response.text)
        ids[name] = response.json()["event_id"]
    casebook = api.get(f"/api/v1/participants/{PID}").json()
    (tace,) = casebook["tace_sessions"]
    assert tace["lipiodol_ml"] == 12 and tace["occurred_on"] == "2026-01-14"
    adapter: TypeAdapter[Any] = TypeAdapter(EventSubmission)
    for name, example in examples.items():
        if name.startswith("correct-"):
            parsed = adapter.validate_python(example["value"])
            assert parsed.data.corrects == PLACEHOLDER_EVENT_ID


def test_docs_examples_are_the_documented_bodies() -> None:
    for path in sorted(DOCS.glob("*.json")):
        assert json.loads(path.read_text()) == STORY[path.stem], path.name
