"""The status lookup: its own app over the read model, fed only by dossier events."""

import pytest

from dossier.lookup.app import create_app as lookup_app
from dossier.settings import LookupSettings
from kit.cache.memory import MemoryCache
from kit.testing import as_user, eventually, serving

from .uploads import online_form

RECEPTION = as_user("reception1", "reception_officer")


@pytest.fixture
async def lookup(platform):
    async with serving(lookup_app(LookupSettings(), bus=platform.bus, cache=MemoryCache())) as client:
        yield client


async def test_the_lookup_follows_the_dossier_through_its_states(platform, lookup):
    receipt = (await platform.post("/dossiers", **online_form(), headers=as_user("c", "citizen"))).json()
    ask = {"code": receipt["code"], "security_code": receipt["security_code"]}

    async def state():
        r = await lookup.post("/lookup", json=ask)
        return r.json().get("state") if r.status_code == 200 else None

    assert await eventually(state) == "submitted"
    await platform.post(f"/dossiers/{receipt['code']}/receive", headers=RECEPTION)
    await eventually(lambda: _is(state, "received"))
    view = (await lookup.get(f"/lookup/{receipt['code']}", params={"security_code": receipt["security_code"].lower()})).json()
    assert view["state_label_vi"] == "Đã tiếp nhận" and view["procedure_name"] == "Đăng ký kết hôn"
    assert "sc" not in view and "security_code_hash" not in view


async def _is(check, expected):
    return await check() == expected


async def test_a_wrong_security_code_and_an_unknown_dossier_get_the_same_answer(platform, lookup):
    receipt = (await platform.post("/dossiers", **online_form(), headers=as_user("c", "citizen"))).json()
    await eventually(lambda: _found(lookup, receipt))
    wrong = await lookup.post("/lookup", json={"code": receipt["code"], "security_code": "AAAAAAAA"})
    unknown = await lookup.post("/lookup", json={"code": "000.00.21.H49-010101-0001", "security_code": "AAAAAAAA"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()


async def _found(lookup, receipt):
    r = await lookup.post("/lookup", json={"code": receipt["code"], "security_code": receipt["security_code"]})
    return r.status_code == 200


async def test_a_missing_security_code_is_a_422(lookup):
    r = await lookup.post("/lookup", json={"code": "000.00.21.H49-010101-0001"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.security_code"


async def test_the_openapi_document_still_describes_the_answer(lookup):
    paths = (await lookup.get("/openapi.json")).json()["paths"]
    for route in (paths["/lookup"]["post"], paths["/lookup/{code}"]["get"]):
        schema = route["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/StatusView"}
        assert "application/problem+json" in route["responses"]["404"]["content"]
