"""The dossier service through HTTP, on both store adapters, with the real catalogue behind it."""

import asyncio
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kit.testing import as_user, eventually

from .conftest import SUBMISSION
from .uploads import online_form

CITIZEN = as_user("citizen1", "citizen")
RECEPTION = as_user("reception1", "reception_officer", agency="000.00.21.H49")


async def submit(client, body=None):
    """Online, as multipart: the submission and one PDF per document."""
    return await client.post("/dossiers", **online_form(body), headers=CITIZEN)


async def test_a_submission_gets_a_dossier_code_of_the_national_format_and_a_security_code(platform):
    r = await submit(platform)
    assert r.status_code == 201, r.text
    body = r.json()
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%y%m%d")
    assert body["code"] == f"000.00.21.H49-{today}-0001"
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{8}", body["security_code"])
    assert body["state"] == "submitted" and body["status_code"] == 1


async def test_the_security_code_is_never_stored_in_plain_text(platform):
    body = (await submit(platform)).json()
    stored = await platform.store.collection("dossiers").get(body["code"])
    assert body["security_code"] not in json.dumps(stored)


async def test_concurrent_submissions_get_unique_consecutive_codes(platform):
    answers = await asyncio.gather(*(submit(platform) for _ in range(25)))
    assert all(a.status_code == 201 for a in answers)
    sequences = sorted(int(a.json()["code"].rsplit("-", 1)[1]) for a in answers)
    assert sequences == list(range(1, 26))


async def test_submitting_needs_a_citizen(platform):
    assert (await platform.post("/dossiers", json=SUBMISSION)).status_code == 401
    assert (await platform.post("/dossiers", json=SUBMISSION, headers=RECEPTION)).status_code == 403


async def test_an_unknown_procedure_is_refused_and_nothing_is_stored(platform):
    r = await submit(platform, {**SUBMISSION, "procedure_code": "9.999999"})
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/unknown-procedure" and r.json()["field"] == "procedure_code"
    assert await platform.store.collection("dossiers").count() == 0


async def test_missing_applicant_fields_are_named(platform):
    applicant = {k: v for k, v in SUBMISSION["applicant"].items() if k not in ("name", "id_number")}
    r = await submit(platform, {**SUBMISSION, "applicant": applicant})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"submission.applicant.name", "submission.applicant.id_number"}
    assert await platform.store.collection("dossiers").count() == 0


async def test_documents_the_procedure_does_not_list_are_refused(platform):
    r = await submit(platform, {**SUBMISSION, "documents": [{"code": "TK"}, {"code": "PASSPORT"}]})
    assert r.status_code == 422 and r.json()["unknown"] == ["PASSPORT"]


async def test_an_oversized_body_is_refused(platform):
    huge = {**SUBMISSION, "applicant": {**SUBMISSION["applicant"], "address": "x" * 2_000_000}}
    r = await submit(platform, huge)  # the JSON part over its limit
    assert r.status_code == 413
    r = await platform.post("/dossiers", json=huge, headers=CITIZEN)  # a JSON body over the same limit
    assert r.status_code == 413


async def test_receiving_moves_the_dossier_on_and_emits_dossier_received(platform):
    seen = []

    async def watch(event):
        seen.append(event)

    platform.bus.subscribe("dossier.events", "test-watch", watch)
    code = (await submit(platform)).json()["code"]
    r = await platform.post(f"/dossiers/{code}/receive", headers=RECEPTION)
    assert r.status_code == 200 and r.json()["state"] == "received" and r.json()["received_at"]
    await eventually(lambda: [e.type for e in seen if e.subject == code] ==
                     ["vn.motcua.dossier.submitted.v1", "vn.motcua.dossier.received.v1"])
    received = seen[-1]
    assert received.data["sequence"] == 2 and received.data["received_by"] == "reception1"


async def test_an_illegal_transition_is_a_409_naming_the_state_and_allowed_actions(platform):
    code = (await submit(platform)).json()["code"]
    await platform.post(f"/dossiers/{code}/receive", headers=RECEPTION)
    r = await platform.post(f"/dossiers/{code}/receive", headers=RECEPTION)
    assert r.status_code == 409
    assert r.json()["state"] == "received" and r.json()["allowed_actions"] == ["transfer", "request_withdrawal"]


async def test_the_wrong_role_cannot_receive_and_nothing_changes(platform):
    code = (await submit(platform)).json()["code"]
    r = await platform.post(f"/dossiers/{code}/receive", headers=CITIZEN)
    assert r.status_code == 403
    assert (await platform.get(f"/dossiers/{code}", headers=RECEPTION)).json()["state"] == "submitted"


@pytest.mark.parametrize("code", ["nope", "000.00.21.H49-261123-9999"])
async def test_unknown_dossiers_are_404(platform, code):
    assert (await platform.post(f"/dossiers/{code}/receive", headers=RECEPTION)).status_code == 404
