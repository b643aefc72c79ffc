"""Errors a client can cause come back as problem+json 4xx, never 500."""

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from kit import problems
from kit.rules import RuleViolation


class Applicant(BaseModel):
    name: str = Field(min_length=1)
    phone: str


def make_app() -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.post("/applicants")
    async def create(applicant: Applicant):
        return applicant

    @app.get("/conflict")
    async def conflict():
        raise problems.Conflict("illegal-transition", "Not allowed", "Dossier is returned.", state="returned")

    @app.post("/extend")
    async def extend():
        raise LateRequest("An extension is asked at least one day before the due date.", allowed_actions=["appraise"])

    return problems.BodyLimit(app, max_bytes=1000)


class LateRequest(RuleViolation):
    """What a service's pure domain module raises: no web framework in sight."""

    status, kind = 409, "illegal-transition"


async def call(method, path, **kw):
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kw)


async def test_a_missing_field_is_named():
    r = await call("POST", "/applicants", json={"name": "An"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/validation-error"
    assert body["errors"] == [{"field": "body.phone", "message": "Field required"}]
    assert "body.phone" in body["detail"]


async def test_malformed_json_is_a_400():
    r = await call("POST", "/applicants", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["type"] == "/problems/malformed-json"


async def test_an_oversized_body_is_a_413():
    r = await call("POST", "/applicants", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["type"] == "/problems/payload-too-large"


async def test_a_multipart_body_may_have_its_own_larger_limit():
    app = problems.BodyLimit(make_app().app, max_bytes=10_000, max_non_multipart_bytes=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        json_body = await client.post("/applicants", content=b"x" * 5000, headers={"content-type": "application/json"})
        upload = await client.post("/applicants", files={"f": ("a.bin", b"x" * 5000)})
        huge = await client.post("/applicants", files={"f": ("a.bin", b"x" * 20_000)})
    assert json_body.status_code == 413 and "1000 bytes" in json_body.json()["detail"]
    assert upload.status_code == 422  # through the limit; the route itself wants JSON
    assert huge.status_code == 413 and "10000 bytes" in huge.json()["detail"]


async def test_unknown_route_is_a_problem_404():
    r = await call("GET", "/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_domain_problems_carry_their_extra_members():
    r = await call("GET", "/conflict")
    assert r.status_code == 409
    assert r.json() == {"type": "/problems/illegal-transition", "title": "Not allowed", "detail": "Dossier is returned.",
                        "status": 409, "instance": "/conflict", "state": "returned"}


async def test_a_domain_rule_violation_is_answered_with_its_status_and_details():
    r = await call("POST", "/extend")
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/illegal-transition" and body["title"] == "Not allowed in the current state"
    assert body["detail"] == "An extension is asked at least one day before the due date."
    assert body["allowed_actions"] == ["appraise"]
