"""The event contracts and the AsyncAPI document generated from them."""

import json
from pathlib import Path

from contracts import REGISTRY, topics
from contracts.asyncapi import document, render

CHECKED_IN = Path(__file__).parents[1] / "asyncapi.json"


def test_the_checked_in_asyncapi_document_is_the_one_the_contracts_generate():
    assert CHECKED_IN.read_text() == render(), "run `make asyncapi` and commit libs/contracts/asyncapi.json"


def test_every_event_type_follows_the_naming_rule_and_has_a_message():
    doc = document()
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == set(REGISTRY)
    for event_type, model in REGISTRY.items():
        parts = event_type.split(".")
        assert parts[:2] == ["vn", "motcua"] and parts[-1] == "v1" and len(parts) == 5, event_type
        assert model.topic.endswith(".events")


def test_every_topic_is_a_channel_whose_messages_resolve():
    doc = document()
    assert {c["address"] for c in doc["channels"].values()} == set(topics())
    for channel in doc["channels"].values():
        for ref in channel["messages"].values():
            name = ref["$ref"].rsplit("/", 1)[1]
            payload = doc["components"]["messages"][name]["payload"]["$ref"].rsplit("/", 1)[1]
            assert payload in doc["components"]["schemas"]
    json.dumps(doc)  # serialisable
