"""Seed data: reference data and procedures from seed_data/*.json (each file says in its `_note`
what comes from Quảng Ninh's publications and what is sample data)."""

import json
import logging
from importlib import resources

from kit.store import DuplicateKey

from kit.events import utcnow

from catalog.domain import Agency, Centre, ProcedureDraft, ProcedureField, new_procedure
from catalog.handlers import Catalog

log = logging.getLogger("catalog.seed")


def load(name: str) -> list[dict]:
    text = resources.files("catalog").joinpath("seed_data", name).read_text(encoding="utf-8")
    return json.loads(text)["items"]


async def seed(catalog: Catalog) -> dict[str, int]:
    """Insert what is missing; safe to run again (nothing is overwritten)."""
    store = catalog.store
    counts = {"fields": 0, "agencies": 0, "centres": 0, "procedures": 0}
    for name, coll, model in (("fields.json", store.fields, ProcedureField), ("agencies.json", store.agencies, Agency)):
        for item in load(name):
            data = model.model_validate(item).model_dump(mode="json")
            try:
                await coll.insert({"_id": data["code"], **data})
                counts[name.split(".")[0]] += 1
            except DuplicateKey:
                pass
    for order, item in enumerate(load("centres.json")):
        data = Centre.model_validate(item).model_dump(mode="json")
        try:
            await store.centres.insert({"_id": data["code"], "order": order, **data})
            counts["centres"] += 1
        except DuplicateKey:
            pass
    for item in load("procedures.json"):
        draft = ProcedureDraft.model_validate(item)
        if await store.get(draft.code) is not None:
            continue
        procedure = new_procedure(draft)
        events = procedure.publish(at=utcnow())  # seeded procedures are published, and announced like any other
        try:
            await store.add(procedure, events)
            counts["procedures"] += 1
        except DuplicateKey:
            pass
    log.info("seeded %s", counts)
    return counts
