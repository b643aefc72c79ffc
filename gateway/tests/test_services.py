"""The gateway in front of the real services: the catalogue (public reads) and the dossier service (role
checks on the verified user), each on its own loopback port, and the merged OpenAPI document."""

import json
import re

import httpx
import pytest
import pytest_asyncio

from catalog.seed import load
from gateway import openapi
from gateway.app import create_app
from kit.testing import serving

from .conftest import UPSTREAMS, catalog_and_dossier, gateway_settings, is_problem, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

SUBMISSION = {
    "procedure_code": "1.000894",
    "applicant": {"name": "Nguyễn Văn An", "id_number": "022090001234", "phone": "0912345678",
                  "email": "an@example.vn", "address": "Phường Hồng Gai, Hạ Long, Quảng Ninh"},
    "documents": [{"code": "TK", "originals": 1}, {"code": "XNTTHN", "originals": 1}],
    "result_channel": "online",
}
FORGED_CITIZEN = {"X-User-Id": "citizen1", "X-User-Roles": "citizen"}
TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def online_form() -> dict:
    """An online submission as the dossier service takes it: the JSON part and a PDF for each document."""
    submission = {**SUBMISSION, "documents": [{**d, "files": [f"{d['code']}.pdf"]} for d in SUBMISSION["documents"]]}
    return {"files": [("submission", (None, json.dumps(submission).encode(), "application/json")),
                      *(("files", (f"{d['code']}.pdf", TINY_PDF, "application/pdf")) for d in SUBMISSION["documents"])]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory, down):
    """Catalogue (seeded) and dossier service on real ports, on one in-process bus and their own SQLite
    files; the gateway in front (other upstreams down). `.catalog_url` is the catalogue's own address."""
    async with catalog_and_dossier(tmp_path_factory.mktemp("platform"), down) as (settings, catalog_url):
        app = create_app(settings)
        async with serving(app) as client:
            client.issuer = app.state.dev_issuer
            client.catalog_url = catalog_url
            yield client


# --- the catalogue: public reads, protected writes ---------------------------------------------------

async def test_anyone_can_page_through_the_catalogue(platform):
    codes, cursor, pages = [], None, 0
    while True:
        r = await platform.get("/api/v1/procedures", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        codes += [p["code"] for p in r.json()["items"]]
        pages += 1
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert pages >= 2 and len(codes) == len(set(codes)) >= 4
    assert "1.000894" in codes


async def test_anyone_can_read_a_procedure(platform):
    r = await platform.get("/api/v1/procedures/1.000894")
    assert r.status_code == 200, r.text
    assert r.json()["name_vi"] == "Đăng ký kết hôn"


async def test_the_catalogues_own_problems_pass_through(platform):
    r = await platform.get("/api/v1/procedures/9.999999")
    is_problem(r, 404)
    r = await platform.get("/api/v1/procedures", params={"cursor": "%%%notacursor"})
    is_problem(r, 422, "invalid-cursor")


async def test_publishing_a_procedure_needs_a_token_and_the_catalog_admin_role(platform):
    # a new procedure made from a seeded one, so the body follows the catalogue's own schema
    draft = {**next(p for p in load("procedures.json") if p["code"] == "1.000894"), "code": "1.004227"}
    admin_headers = {"X-User-Id": "catalog1", "X-User-Roles": "catalog_admin"}
    is_problem(await platform.post("/api/v1/procedures", json=draft, headers=admin_headers), 401, "unauthenticated")
    r = await platform.post("/api/v1/procedures", json=draft,
                            headers={**signed_in(platform, "citizen1"), **admin_headers})
    is_problem(r, 403, "forbidden-role")
    assert (await platform.get("/api/v1/procedures/1.004227")).status_code == 404

    catalog1 = signed_in(platform, "catalog1")
    r = await platform.post("/api/v1/procedures", json=draft, headers=catalog1)
    assert r.status_code == 201, r.text
    assert (await platform.post("/api/v1/procedures/1.004227/publish", headers=catalog1)).status_code == 200
    assert (await platform.get("/api/v1/procedures/1.004227")).json()["code"] == "1.004227"


# --- the dossier service: roles from the verified token ----------------------------------------------

async def test_a_citizen_submits_a_dossier(platform):
    r = await platform.post("/api/v1/dossiers", **online_form(), headers=signed_in(platform, "citizen1"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"].startswith("000.00.21.H49-") and body["state"] == "submitted"
    assert body["security_code"]


async def test_a_reception_officer_cannot_submit_online(platform):
    r = await platform.post("/api/v1/dossiers", json=SUBMISSION, headers=signed_in(platform, "reception1"))
    body = is_problem(r, 403, "forbidden-role")
    assert body["required_roles"] == ["citizen"]


async def test_an_officer_cannot_claim_the_citizen_role_with_a_header(platform):
    r = await platform.post("/api/v1/dossiers", json=SUBMISSION,
                            headers={**signed_in(platform, "reception1"), **FORGED_CITIZEN})
    is_problem(r, 403, "forbidden-role")


async def test_no_token_is_a_401_even_with_citizen_headers(platform):
    r = await platform.post("/api/v1/dossiers", json=SUBMISSION, headers=FORGED_CITIZEN)
    is_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


async def test_an_officer_reads_the_dossier_a_citizen_cannot(platform):
    submitted = await platform.post("/api/v1/dossiers", **online_form(), headers=signed_in(platform, "citizen1"))
    code = submitted.json()["code"]
    r = await platform.get(f"/api/v1/dossiers/{code}", headers=signed_in(platform, "reception1"))
    assert r.status_code == 200, r.text
    assert r.json()["code"] == code and r.json()["procedure_code"] == "1.000894"
    is_problem(await platform.get(f"/api/v1/dossiers/{code}", headers=signed_in(platform, "citizen1")),
               403, "forbidden-role")


async def test_a_bad_submission_is_the_services_422_problem(platform):
    r = await platform.post("/api/v1/dossiers", json={**SUBMISSION, "procedure_code": "9.999999"},
                            headers=signed_in(platform, "citizen1"))
    body = is_problem(r, 422, "unknown-procedure")
    assert body["field"] == "procedure_code"


# --- one OpenAPI document -----------------------------------------------------------------------------

async def test_the_openapi_document_merges_the_services_under_api_v1(platform):
    r = await platform.get("/api/v1/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    async with httpx.AsyncClient() as client:
        catalog = (await client.get(f"{platform.catalog_url}/openapi.json")).json()

    catalog_paths = [p for p in catalog["paths"] if not p.startswith("/health")]
    assert "/procedures" in catalog_paths
    for path in catalog_paths:
        for method, operation in catalog["paths"][path].items():
            merged = doc["paths"][f"/api/v1{path}"][method]
            assert merged["operationId"] == f"catalog_{operation['operationId']}"  # unique across services
            assert {**merged, "operationId": None} == {**operation, "operationId": None}
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs and refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])
    assert "/api/v1/dossiers" in doc["paths"] and "/api/v1/dossiers/{code}" in doc["paths"]
    assert not [p for p in doc["paths"] if p.startswith("/api/v1/health")]
    assert not [p for p in doc["paths"] if p.startswith(("/procedures", "/dossiers"))]
    assert "Procedure" in doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert sorted(doc["x-unavailable"]) == sorted(set(UPSTREAMS) - {"catalog", "dossier"})


async def test_two_services_with_a_schema_of_the_same_name_keep_both():
    def service(field: str) -> dict:
        return {"paths": {f"/{field}": {"get": {"operationId": "read", "responses": {"200": {"content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Attachment"}}}}}}}},
                "components": {"schemas": {"Attachment": {"properties": {field: {"type": "string"}}}}}}

    merged = {"components": {"schemas": {}}, "paths": {}}
    for name in ("dossier", "feedback"):
        doc = openapi._namespaced(name, service(f"{name}_file"), merged["components"]["schemas"])
        merged["paths"].update(doc["paths"])
        merged["components"]["schemas"].update(doc["components"]["schemas"])
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Attachment", "FeedbackAttachment"}
    ref = merged["paths"]["/feedback_file"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/FeedbackAttachment"}
    assert "feedback_file" in schemas["FeedbackAttachment"]["properties"]
    assert merged["paths"]["/dossier_file"]["get"]["operationId"] == "dossier_read"


async def test_the_openapi_document_lists_every_missing_upstream(down):
    app = create_app(gateway_settings(down=down))
    async with serving(app) as client:
        r = await client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert sorted(r.json()["x-unavailable"]) == sorted(UPSTREAMS)
    assert not [p for p in r.json()["paths"] if p.startswith("/api/v1/")]
