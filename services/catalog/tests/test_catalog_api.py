"""The catalogue through HTTP, on both store adapters, seeded with the demo data."""

from datetime import timedelta

import pytest

from catalog.app import create_app
from catalog.handlers import today
from catalog.settings import CatalogSettings
from kit.bus.memory import MemoryBus
from kit.testing import as_user, eventually, serving

ADMIN = as_user("catalog1", "catalog_admin")


@pytest.fixture
async def client(store):
    bus = MemoryBus()
    events = []

    async def watch(event):
        events.append(event)

    bus.subscribe("catalog.events", "test-watch", watch)
    app = create_app(CatalogSettings(seed_demo=True), bus=bus, store=store)
    async with serving(app) as client:
        client.events = events
        yield client
    await bus.stop()


def draft(**overrides):
    body = {"code": "1.004227", "name_vi": "Cấp bản sao trích lục hộ tịch", "name_en": "Copy of a civil status extract",
            "field_code": "ho-tich", "level": "commune", "agency_code": "000.00.21.H49",
            "target_applicants": ["citizen"], "cases": [{"code": "TH1", "name_vi": "Cấp bản sao"}],
            "processing_times": [{"channel": "online", "value": 1, "unit": "working_days"},
                                 {"channel": "in_person", "value": 4, "unit": "hours"}],
            "fees": [{"channel": "online", "case_code": "TH1", "amount": 8000, "description": "Phí cấp bản sao"}],
            "required_documents": [{"code": "TK", "name": "Tờ khai", "originals": 1}],
            "conditions": [], "result": {"code": "BSTL", "name": "Bản sao trích lục"},
            "legal_basis": [{"number": "60/2014/QH13", "title": "Luật Hộ tịch"}],
            "online_level": "full", "accepted_anywhere": True, "immediate_result": False,
            "effective_from": "2025-07-01"}
    body.update(overrides)
    return body


async def create_and_publish(client, body):
    assert (await client.post("/procedures", json=body, headers=ADMIN)).status_code == 201
    r = await client.post(f"/procedures/{body['code']}/publish", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


# --- reading ------------------------------------------------------------------------------

async def test_an_unaccented_query_finds_marriage_registration_first(client):
    r = await client.get("/procedures", params={"q": "dang ky ket hon"})
    assert r.status_code == 200
    assert r.json()["items"][0]["code"] == "1.000894"
    assert r.json()["items"][0]["name_vi"] == "Đăng ký kết hôn"


async def test_search_filters_by_level_field_agency_and_online_level(client):
    body = (await client.get("/procedures", params={"level": "province", "limit": 100})).json()
    assert body["items"] and all(p["level"] == "province" for p in body["items"])
    body = (await client.get("/procedures", params={"field": "ho-tich", "limit": 100})).json()
    assert body["items"] and all(p["field_code"] == "ho-tich" for p in body["items"])
    body = (await client.get("/procedures", params={"agency": "000.00.10.H49", "limit": 100})).json()
    assert body["items"] and all(p["agency_code"] == "000.00.10.H49" for p in body["items"])
    body = (await client.get("/procedures", params={"online_level": "partial", "limit": 100})).json()
    assert body["items"] and all(p["online_level"] == "partial" for p in body["items"])


async def test_pages_follow_the_cursor_without_repeats(client):
    seen, cursor = [], None
    while True:
        params = {"limit": 25, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/procedures", params=params)).json()
        seen += [p["code"] for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == body["total"] >= 60


async def test_a_cursor_of_another_search_or_a_forged_one_is_a_422(client):
    cursor = (await client.get("/procedures", params={"q": "dang ky", "limit": 1})).json()["next_cursor"]
    r = await client.get("/procedures", params={"q": "xay dung", "cursor": cursor})
    assert r.status_code == 422 and r.json()["type"] == "/problems/invalid-cursor"
    assert (await client.get("/procedures", params={"cursor": "%%%"})).status_code == 422


async def test_reads_return_the_version_in_force_on_a_date(client):
    await create_and_publish(client, draft())
    later = (today() + timedelta(days=30)).isoformat()
    r = await client.put("/procedures/1.004227", json=draft(name_vi="Cấp bản sao trích lục hộ tịch (sửa đổi)",
                                                             effective_from=later), headers=ADMIN)
    assert r.status_code == 200 and len(r.json()["versions"]) == 2
    now = (await client.get("/procedures/1.004227")).json()
    assert now["version"] == 1 and now["name_vi"] == "Cấp bản sao trích lục hộ tịch"
    future = (await client.get("/procedures/1.004227", params={"on": later})).json()
    assert future["version"] == 2 and future["name_vi"].endswith("(sửa đổi)")
    before = await client.get("/procedures/1.004227", params={"on": "2020-01-01"})
    assert before.status_code == 404


async def test_reference_data_and_the_fifteen_centres(client):
    centres = (await client.get("/centres")).json()
    assert len(centres) == 15
    assert centres[0]["phones"] and centres[0]["address"]
    one = (await client.get(f"/centres/{centres[1]['code']}")).json()
    assert one == centres[1]
    assert (await client.get("/centres/nowhere")).status_code == 404
    fields = (await client.get("/fields")).json()
    assert len(fields) >= 12 and {"code": "ho-tich"}.items() <= next(f for f in fields if f["code"] == "ho-tich").items()
    communes = (await client.get("/agencies", params={"level": "commune"})).json()
    assert communes and all(a["level"] == "commune" for a in communes)


async def test_an_unknown_code_is_a_404_problem(client):
    r = await client.get("/procedures/9.999999")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


# --- administration -----------------------------------------------------------------------

async def test_the_lifecycle_emits_published_revised_and_withdrawn_with_what_other_services_need(client):
    created = await client.post("/procedures", json=draft(), headers=ADMIN)
    assert created.status_code == 201 and created.json()["status"] == "draft"
    assert (await client.get("/procedures/1.004227")).status_code == 404  # a draft is not public
    await client.post("/procedures/1.004227/publish", headers=ADMIN)
    await client.put("/procedures/1.004227", json=draft(fees=[{"channel": "online", "amount": 10000}]), headers=ADMIN)
    r = await client.post("/procedures/1.004227/withdraw", headers=ADMIN,
                          json={"effective_from": (today() + timedelta(days=1)).isoformat(), "reason": "Bãi bỏ"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    history = (await client.get("/procedures/1.004227/versions", headers=ADMIN)).json()
    assert [v["version"] for v in history["versions"]] == [1, 2] and history["withdrawal_reason"] == "Bãi bỏ"
    mine = await eventually(lambda: [e for e in client.events if e.subject == "1.004227"] if len(
        [e for e in client.events if e.subject == "1.004227"]) == 3 else None)
    assert [e.type for e in mine] == ["vn.motcua.procedure.published.v1", "vn.motcua.procedure.revised.v1",
                                      "vn.motcua.procedure.withdrawn.v1"]
    published, revised = mine[0].data, mine[1].data
    assert published["processing_times"][0] == {"channel": "online", "value": 1.0, "unit": "working_days"}
    assert published["required_documents"][0]["code"] == "TK"
    assert published["fees"][0]["amount"] == 8000 and revised["fees"][0]["amount"] == 10000
    assert revised["version"] == 2


async def test_administration_needs_the_catalog_admin_role(client):
    assert (await client.post("/procedures", json=draft())).status_code == 401
    assert (await client.post("/procedures", json=draft(), headers=as_user("c1", "citizen"))).status_code == 403
    assert (await client.post("/procedures/1.000894/withdraw", json={"effective_from": "2030-01-01", "reason": "xyz"},
                              headers=as_user("c1", "citizen"))).status_code == 403
    assert (await client.get("/procedures/1.000894/versions", headers=as_user("c1", "citizen"))).status_code == 403


async def test_illegal_changes_are_409(client):
    assert (await client.post("/procedures/1.000894/publish", headers=ADMIN)).status_code == 409  # already published
    assert (await client.post("/procedures", json=draft(code="1.000894"), headers=ADMIN)).status_code == 409
    r = await client.put("/procedures/1.000894", json=draft(code="1.004227"), headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "code"


@pytest.mark.parametrize("overrides, field", [
    ({"field_code": "astrology"}, "field_code"),
    ({"agency_code": "999.99.99.X00"}, "agency_code"),
])
async def test_unknown_reference_data_is_named_and_nothing_is_stored(client, overrides, field):
    r = await client.post("/procedures", json=draft(**overrides), headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == field
    assert (await client.get("/procedures/1.004227/versions", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize("overrides, field", [
    ({"fees": [{"channel": "online", "amount": -5}]}, "body.fees.0.amount"),
    ({"processing_times": [{"channel": "online", "value": 3}]}, "body.processing_times.0.unit"),
    ({"code": "123"}, "body.code"),
    ({"level": "galaxy"}, "body.level"),
    ({"colour": "blue"}, "body.colour"),
    ({"fees": [{"channel": "post", "amount": 5}]}, "body"),
])
async def test_bad_input_names_the_field_and_stores_nothing(client, overrides, field):
    r = await client.post("/procedures", json=draft(**overrides), headers=ADMIN)
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert field in fields, fields
    assert (await client.get("/procedures/1.004227/versions", headers=ADMIN)).status_code == 404


async def test_health(client):
    ready = (await client.get("/health/ready")).json()
    assert ready["status"] == "ok" and ready["checks"]["store"] == "ok"
