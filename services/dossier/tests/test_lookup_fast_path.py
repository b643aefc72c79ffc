"""The lookup's fast path (dossier/lookup/fast.py) answers well-formed lookups in front of FastAPI; every
other request still gets the FastAPI routes' documented answers, and the access metrics keep the
routes' templates."""

import pytest

from dossier.lookup.app import create_app as lookup_app
from dossier.settings import LookupSettings
from kit.cache.memory import MemoryCache
from kit.testing import as_user, eventually, serving

from .uploads import online_form

PROBLEM = "application/problem+json"


@pytest.fixture
async def lookup(platform):
    async with serving(lookup_app(LookupSettings(), bus=platform.bus, cache=MemoryCache())) as client:
        yield client


@pytest.fixture
async def receipt(platform, lookup):
    receipt = (await platform.post("/dossiers", **online_form(), headers=as_user("c", "citizen"))).json()

    async def found():
        r = await lookup.get(f"/lookup/{receipt['code']}", params={"security_code": receipt["security_code"]})
        return r.status_code == 200

    await eventually(found)
    return receipt


async def test_get_and_post_give_the_same_view(lookup, receipt):
    by_get = await lookup.get(f"/lookup/{receipt['code']}", params={"security_code": receipt["security_code"]})
    by_post = await lookup.post("/lookup", json={"code": receipt["code"], "security_code": receipt["security_code"]})
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.headers["content-type"] == by_post.headers["content-type"] == "application/json"
    assert by_get.json() == by_post.json() and by_get.json()["code"] == receipt["code"]
    assert by_get.json()["state"] == "submitted"


async def test_a_wrong_code_is_the_documented_404_by_either_route(lookup, receipt):
    by_get = await lookup.get(f"/lookup/{receipt['code']}", params={"security_code": "WRONGCODE"})
    by_post = await lookup.post("/lookup", json={"code": receipt["code"], "security_code": "WRONGCODE"})
    assert by_get.status_code == by_post.status_code == 404
    assert by_get.headers["content-type"] == by_post.headers["content-type"] == PROBLEM
    assert by_get.json()["type"] == by_post.json()["type"] == "/problems/dossier-not-found"


@pytest.mark.parametrize("send,status", [
    pytest.param(lambda c, r: c.get(f"/lookup/{r['code']}"), 422, id="no security code"),
    pytest.param(lambda c, r: c.get(f"/lookup/{r['code']}", params={"security_code": "abc"}), 422, id="too short"),
    pytest.param(lambda c, r: c.get(f"/lookup/{r['code']}", params={"security_code": "A" * 33}), 422, id="too long"),
    pytest.param(lambda c, r: c.post("/lookup", json={"code": r["code"]}), 422, id="body without security code"),
    pytest.param(lambda c, r: c.post("/lookup", json={"code": 12345, "security_code": "ABCDEFGH"}),
                 422, id="code not a string"),
    pytest.param(lambda c, r: c.post("/lookup", json={"code": "abc", "security_code": "ABCDEFGH"}),
                 422, id="code too short"),
    pytest.param(lambda c, r: c.post("/lookup", json=[r["code"], "ABCDEFGH"]), 422, id="array body"),
    pytest.param(lambda c, r: c.post("/lookup", content=b'{"code": "\xff\xfe", "security_code": "x"}',
                                     headers={"content-type": "application/json"}), 400, id="invalid UTF-8"),
    pytest.param(lambda c, r: c.post("/lookup", content=b'{"code": ', headers={"content-type": "application/json"}),
                 400, id="truncated JSON"),
    pytest.param(lambda c, r: c.post("/lookup", content=b"code=x", headers={"content-type": "text/plain"}),
                 422, id="not JSON at all"),
])
async def test_a_malformed_lookup_is_still_the_routes_problem(lookup, receipt, send, status):
    answer = await send(lookup, receipt)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    if status == 422:
        assert answer.json()["type"] == "/problems/validation-error"


async def test_a_lone_surrogate_in_the_code_is_not_a_server_error(lookup, receipt):
    # JSON may carry an unpaired surrogate escape; no dossier code has one.
    answer = await lookup.post("/lookup", content=b'{"code": "\\ud800abcdef", "security_code": "ABCDEFGH"}',
                               headers={"content-type": "application/json"})
    assert answer.status_code == 404 and answer.headers["content-type"] == PROBLEM
    by_get = await lookup.get("/lookup/%00abcdef", params={"security_code": "ABCDEFGH"})
    assert by_get.status_code == 404 and by_get.json()["type"] == "/problems/dossier-not-found"


async def test_a_repeated_security_code_is_answered_as_fastapi_reads_it(lookup, receipt):
    code = receipt["code"]
    answer = await lookup.get(f"/lookup/{code}?security_code=WRONGCODE&security_code={receipt['security_code']}")
    # FastAPI takes the last value of a repeated scalar parameter.
    assert answer.status_code == 200 and answer.json()["code"] == code


async def test_the_request_metrics_keep_the_route_templates(lookup, receipt):
    await lookup.get(f"/lookup/{receipt['code']}", params={"security_code": receipt["security_code"]})
    await lookup.post("/lookup", json={"code": receipt["code"], "security_code": receipt["security_code"]})
    text = (await lookup.get("/metrics")).text
    for route in ("/lookup/{code}", "/lookup"):
        assert any(f'route="{route}"' in line and 'status="200"' in line and line.startswith("motcua_http_server_requests_total")
                   for line in text.splitlines()), route
    assert receipt["code"] not in text  # never the path itself
