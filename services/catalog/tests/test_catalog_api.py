"""The catalogue through HTTP, on both store adapters."""

import pytest

from catalog.app import create_app
from catalog.settings import CatalogSettings
from kit.bus.memory import MemoryBus
from kit.testing import as_user, eventually, serving

ADMIN = as_user("catalog1", "catalog_admin")


@pytest.fixture
async def client(store):
    bus = MemoryBus()
    app = create_app(CatalogSettings(seed_demo=True), bus=bus, store=store)
    async with serving(app) as client:
        client.bus = bus
        yield client
    await bus.stop()


def draft(**overrides):
    body = {"code": "1.004227", "name_vi": "Cấp bản sao trích lục hộ tịch", "name_en": "Copy of a civil status extract",
            "field_code": "ho-tich", "field_name": "Hộ tịch", "level": "commune", "agency_code": "000.00.21.H49",
            "agency_name": "UBND phường Hồng Gai", "online_level": "full",
            "processing_times": [{"channel": "online", "value": 1, "unit": "working_days"}],
            "fees": [{"channel": "online", "amount": 8000, "description": "Phí cấp bản sao"}],
            "required_documents": [{"code": "TK", "name": "Tờ khai", "originals": 1}],
            "effective_from": "2025-07-01"}
    body.update(overrides)
    return body


async def test_lists_the_seeded_procedures_in_pages_with_a_cursor(client):
    first = (await client.get("/procedures", params={"limit": 3})).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = (await client.get("/procedures", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    codes = [p["code"] for p in first["items"] + second["items"]]
    assert len(codes) == len(set(codes)) == 4
    assert second["next_cursor"] is None


async def test_gets_the_marriage_registration(client):
    r = await client.get("/procedures/1.000894")
    assert r.status_code == 200
    assert r.json()["name_vi"] == "Đăng ký kết hôn"


async def test_an_unknown_code_is_a_404_problem(client):
    r = await client.get("/procedures/9.999999")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_a_forged_cursor_is_a_400(client):
    r = await client.get("/procedures", params={"cursor": "%%%notacursor"})
    assert r.status_code == 400 and r.json()["type"] == "/problems/invalid-cursor"


async def test_publishing_needs_the_catalog_admin_role(client):
    assert (await client.post("/procedures", json=draft())).status_code == 401
    assert (await client.post("/procedures", json=draft(), headers=as_user("c1", "citizen"))).status_code == 403
    assert (await client.get("/procedures/1.004227")).status_code == 404


async def test_publishing_stores_the_procedure_and_emits_procedure_published(client):
    seen = []

    async def watch(event):
        seen.append(event)

    client.bus.subscribe("catalog.events", "test-watch", watch)
    r = await client.post("/procedures", json=draft(), headers=ADMIN)
    assert r.status_code == 201 and r.json()["version"] == 1
    await eventually(lambda: any(e.subject == "1.004227" for e in seen))
    published = next(e for e in seen if e.subject == "1.004227")
    assert published.type == "vn.motcua.procedure.published.v1"
    assert published.data["fees"] == [{"channel": "online", "amount": 8000, "description": "Phí cấp bản sao"}]


async def test_publishing_a_code_twice_is_a_409(client):
    r = await client.post("/procedures", json=draft(code="1.000894"), headers=ADMIN)
    assert r.status_code == 409 and r.json()["type"] == "/problems/procedure-exists"


@pytest.mark.parametrize("overrides, field", [
    ({"fees": [{"channel": "online", "amount": -5}]}, "body.fees.0.amount"),
    ({"processing_times": [{"channel": "online", "value": 3}]}, "body.processing_times.0.unit"),
    ({"code": "123"}, "body.code"),
    ({"unexpected_level": 1, "level": "galaxy"}, "body.level"),
])
async def test_bad_input_names_the_field_and_stores_nothing(client, overrides, field):
    r = await client.post("/procedures", json=draft(**overrides), headers=ADMIN)
    assert r.status_code == 422
    assert field in [e["field"] for e in r.json()["errors"]]
    assert (await client.get(f"/procedures/{overrides.get('code', '1.004227')}")).status_code == 404


async def test_health(client):
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = (await client.get("/health/ready")).json()
    assert ready["status"] == "ok" and ready["checks"]["store"] == "ok"
