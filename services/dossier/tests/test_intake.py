"""Intake with files, through HTTP on both stores: the files of each document are checked by content,
stored with their SHA-256 before the dossier is saved, listed on the dossier and the receipt, and
downloadable byte for byte; bad input changes nothing; an Idempotency-Key never makes a second
dossier; the sweeps remove files without a dossier and keys past their time."""

import asyncio
import base64
import hashlib
import io
import json
import uuid
import zipfile
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pypdfium2 as pdfium
import pytest
from PIL import Image

from dossier.attachments import PENDING, Received, Upload, parse_json
from kit.request_keys import time_key
from dossier.idempotency import KEYS
from kit.blobs.disk import DiskBlobStore
from kit.events import utcnow
from kit.telemetry import QUIET_LOGGERS
from kit.testing import as_user

from .conftest import SUBMISSION
from .uploads import ONLINE, form, tiny_jpeg, tiny_pdf, tiny_png

AGENCY = "000.00.21.H49"
CITIZEN = as_user("citizen1", "citizen")
OTHER_CITIZEN = as_user("citizen2", "citizen")
RECEPTION = as_user("reception1", "reception_officer", agency=AGENCY)
LEADER = as_user("leader1", "leader", agency=AGENCY)
SPECIALIST = as_user("spec1", "specialist", agency=AGENCY)
MIB = 1024 * 1024
FILES = {"Tờ khai kết hôn.pdf": tiny_pdf(), "xac-nhan.png": tiny_png(), "ảnh chụp.jpg": tiny_jpeg()}


def deps(platform):
    return platform.app.state.deps


def intake_parts(platform):
    return platform.app.state.intake


async def stored_blobs(platform) -> set[str]:
    """Every file in the service's file store, read from the store itself (disk or GridFS)."""
    blobs = deps(platform).blobs
    if isinstance(blobs, DiskBlobStore):
        return {p.name.removesuffix(".json") for p in blobs.root.glob("*.json")} if blobs.root.exists() else set()
    return {d["_id"] for d in await blobs.store.db[f"{blobs.bucket_name}.files"].find({}, {"_id": 1}).to_list(None)}


async def count(platform, collection: str = "dossiers") -> int:
    return await platform.store.collection(collection).count()


async def nothing_changed(platform) -> None:
    assert await count(platform) == 0
    assert await count(platform, PENDING) == 0
    assert await count(platform, KEYS) == 0
    assert await stored_blobs(platform) == set()


async def submit(platform, submission=None, files=None, headers=CITIZEN, key: str | None = None):
    extra = {"Idempotency-Key": key} if key else {}
    return await platform.post("/dossiers", **form(submission, files), headers={**headers, **extra})


def today() -> str:
    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%y%m%d")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_the_test_files_are_real_files():
    assert len(pdfium.PdfDocument(tiny_pdf())) == 1
    assert Image.open(io.BytesIO(tiny_png())).format == "PNG"
    assert Image.open(io.BytesIO(tiny_jpeg())).format == "JPEG"


# -- the happy path ---------------------------------------------------------------------------------


async def test_files_are_stored_listed_with_their_sha256_and_downloaded_byte_for_byte(platform):
    r = await submit(platform, ONLINE, list(FILES.items()))
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert code == f"{AGENCY}-{today()}-0001"

    detail = (await platform.get(f"/dossiers/{code}", headers=RECEPTION)).json()
    by_document = {d["code"]: [a["filename"] for a in d["attachments"]] for d in detail["documents"]}
    assert by_document == {"TK": ["Tờ khai kết hôn.pdf"], "XNTTHN": ["xac-nhan.png", "ảnh chụp.jpg"]}
    listed = {a["filename"]: a for d in detail["documents"] for a in d["attachments"]}
    types = {"Tờ khai kết hôn.pdf": "application/pdf", "xac-nhan.png": "image/png", "ảnh chụp.jpg": "image/jpeg"}
    for name, data in FILES.items():
        attachment = listed[name]
        assert attachment["sha256"] == sha(data) and attachment["size"] == len(data)
        assert attachment["content_type"] == types[name]  # as read from the content, not as the client claimed
        assert attachment["blob_id"].startswith(f"{code}-")
        assert await deps(platform).blobs.exists(attachment["blob_id"])

        download = await platform.get(f"/dossiers/{code}/attachments/{attachment['blob_id']}", headers=SPECIALIST)
        assert download.status_code == 200
        assert download.content == data
        assert download.headers["content-type"] == types[name]
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert download.headers["repr-digest"] == f"sha-256=:{digest}:"
        assert download.headers["etag"] == f'"{sha(data)}"'
        assert f"filename*=UTF-8''{quote(name, safe='')}" in download.headers["content-disposition"]
    # nothing else in the file store, and no upload left pending
    assert await stored_blobs(platform) == {a["blob_id"] for a in listed.values()}
    assert await count(platform, PENDING) == 0


async def test_the_receipt_lists_each_file_with_its_sha256(platform):
    answer = (await submit(platform, ONLINE, list(FILES.items()))).json()
    r = await platform.post(f"/dossiers/{answer['code']}/receipt", json={"security_code": answer["security_code"]})
    assert r.status_code == 200
    text = "".join("".join(page.get_textpage().get_text_range().split()) for page in pdfium.PdfDocument(r.content))
    for data in FILES.values():
        assert sha(data) in text


async def test_only_officers_download_and_only_files_of_that_dossier(platform):
    first = (await submit(platform)).json()["code"]
    second = (await submit(platform)).json()["code"]
    blob_of_second = (await platform.get(f"/dossiers/{second}", headers=RECEPTION)).json()["documents"][0][
        "attachments"][0]["blob_id"]
    blob_of_first = (await platform.get(f"/dossiers/{first}", headers=RECEPTION)).json()["documents"][0][
        "attachments"][0]["blob_id"]
    assert (await platform.get(f"/dossiers/{first}/attachments/{blob_of_first}", headers=CITIZEN)).status_code == 403
    assert (await platform.get(f"/dossiers/{first}/attachments/{blob_of_first}")).status_code == 401
    assert (await platform.get(f"/dossiers/{first}/attachments/{blob_of_second}", headers=LEADER)).status_code == 404
    assert (await platform.get(f"/dossiers/{first}/attachments/nope", headers=LEADER)).status_code == 404
    assert (await platform.get(f"/dossiers/{first}/attachments/{blob_of_first}", headers=LEADER)).status_code == 200


async def test_a_counter_intake_takes_json_without_files_or_multipart_with_scans(platform):
    counter = {**SUBMISSION, "result_channel": "counter"}
    plain = await platform.post("/dossiers/counter", json=counter, headers=RECEPTION)
    assert plain.status_code == 201, plain.text and plain.json()["state"] == "received"

    scanned = {**counter, "documents": [{"code": "TK", "files": ["to-khai.pdf"]}, {"code": "XNTTHN"}]}
    r = await platform.post("/dossiers/counter", **form(scanned), headers=RECEPTION)
    assert r.status_code == 201, r.text
    detail = (await platform.get(f"/dossiers/{r.json()['code']}", headers=RECEPTION)).json()
    assert {d["code"]: len(d["attachments"]) for d in detail["documents"]} == {"TK": 1, "XNTTHN": 0}
    assert detail["state"] == "received"


async def test_a_failed_insert_deletes_its_files_before_the_next_code_is_tried(platform):
    # The day's first code is already taken (a counter reset by an operator): the first attempt stores
    # its files, its insert fails, its files are deleted; the second attempt gets the next code.
    taken = f"{AGENCY}-{today()}-0001"
    await platform.store.collection("dossiers").insert({"_id": taken, "code": taken, "documents": []})
    r = await submit(platform)
    assert r.status_code == 201, r.text
    assert r.json()["code"] == f"{AGENCY}-{today()}-0002"
    detail = (await platform.get(f"/dossiers/{r.json()['code']}", headers=RECEPTION)).json()
    assert await stored_blobs(platform) == {a["blob_id"] for d in detail["documents"] for a in d["attachments"]}
    assert await count(platform, PENDING) == 0


# -- bad input: its own problem each, and nothing changed ---------------------------------------------


def many(n: int) -> tuple[dict, list]:
    names = [f"trang-{i:02d}.png" for i in range(n)]
    return ({**ONLINE, "documents": [{"code": "TK", "files": names}]}, [(name, tiny_png()) for name in names])


BAD_INPUT = {
    "listed but not uploaded, uploaded but not listed": (
        lambda: form(ONLINE, [("Tờ khai kết hôn.pdf", tiny_pdf()), ("xac-nhan.png", tiny_png()),
                              ("khac.pdf", tiny_pdf())]),
        422, "attachment-list-mismatch", {"not_uploaded": ["ảnh chụp.jpg"], "not_listed": ["khac.pdf"]}),
    "a Word document named .pdf": (
        lambda: form(ONLINE, [("Tờ khai kết hôn.pdf", docx()), ("xac-nhan.png", tiny_png()),
                              ("ảnh chụp.jpg", tiny_jpeg())]),
        415, "unsupported-attachment-type",
        {"files": [{"filename": "Tờ khai kết hôn.pdf",
                    "detected": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}]}),
    "an executable named .jpg": (
        lambda: form(ONLINE, [("Tờ khai kết hôn.pdf", tiny_pdf()), ("xac-nhan.png", tiny_png()),
                              ("ảnh chụp.jpg", b"MZ\x90\x00" + b"\x00" * 100)]),
        415, "unsupported-attachment-type",
        {"files": [{"filename": "ảnh chụp.jpg", "detected": "application/vnd.microsoft.portable-executable"}]}),
    "a PDF named .png": (
        lambda: form(ONLINE, [("Tờ khai kết hôn.pdf", tiny_pdf()), ("xac-nhan.png", tiny_pdf()),
                              ("ảnh chụp.jpg", tiny_jpeg())]),
        415, "attachment-name-mismatch",
        {"files": [{"filename": "xac-nhan.png", "detected": "application/pdf", "expected_extensions": [".pdf"]}]}),
    "a file over 10 MiB": (
        lambda: form(ONLINE, [("Tờ khai kết hôn.pdf", tiny_pdf() + b"0" * (10 * MIB)), ("xac-nhan.png", tiny_png()),
                              ("ảnh chụp.jpg", tiny_jpeg())]),
        413, "attachment-too-large", {"max_bytes": 10 * MIB}),
    "21 files": (lambda: form(*many(21)), 413, "too-many-attachments", {"max_files": 20}),
    "a document without files online": (
        lambda: form({**ONLINE, "documents": [ONLINE["documents"][0], {"code": "XNTTHN"}]}),
        422, "document-without-files", {"documents": ["XNTTHN"]}),
    "malformed JSON in the submission part": (
        lambda: {"files": [("submission", (None, b'{"procedure_code": "1.000894",', "application/json")),
                           ("files", ("a.pdf", tiny_pdf(), "application/pdf"))]},
        400, "malformed-json", {"field": "submission"}),
    "no submission part": (
        lambda: {"files": [("files", ("a.pdf", tiny_pdf(), "application/pdf"))]}, 400, "missing-submission", {}),
    "an empty file": (
        lambda: form(ONLINE, [("Tờ khai kết hôn.pdf", b""), ("xac-nhan.png", tiny_png()),
                              ("ảnh chụp.jpg", tiny_jpeg())]),
        422, "empty-attachment", {"files": ["Tờ khai kết hôn.pdf"]}),
    "the same file name twice": (
        lambda: form(ONLINE, [("Tờ khai kết hôn.pdf", tiny_pdf()), ("Tờ khai kết hôn.pdf", tiny_pdf()),
                              ("xac-nhan.png", tiny_png()), ("ảnh chụp.jpg", tiny_jpeg())]),
        422, "duplicate-filenames", {"uploaded_twice": ["Tờ khai kết hôn.pdf"]}),
    "a JSON body listing files it cannot carry": (
        lambda: {"json": ONLINE}, 422, "attachment-list-mismatch",
        {"not_uploaded": ["Tờ khai kết hôn.pdf", "xac-nhan.png", "ảnh chụp.jpg"], "not_listed": []}),
    "an unknown procedure": (
        lambda: form({**ONLINE, "procedure_code": "9.999999"}), 422, "unknown-procedure",
        {"field": "procedure_code"}),
    "a case the procedure does not list": (
        lambda: form({**ONLINE, "case_code": "TH9"}), 422, "invalid-command", {"field": "case_code", "cases": ["TH1"]}),
    "an invalid submission": (
        lambda: form({**ONLINE, "applicant": {"phone": "0912345678"}}), 422, "validation-error", {}),
    "a body that is neither multipart nor JSON": (
        lambda: {"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported-media-type", {}),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_bad_input_gets_its_own_problem_and_changes_nothing(platform, case):
    make, status, kind, extra = BAD_INPUT[case]
    request = make()
    headers = {**CITIZEN, **request.pop("headers", {})}
    r = await platform.post("/dossiers", **request, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"/problems/{kind}"
    for field, value in extra.items():
        assert body[field] == value, (field, body)
    await nothing_changed(platform)


async def test_an_invalid_submission_names_the_fields_inside_the_part(platform):
    r = await submit(platform, {**ONLINE, "applicant": {"phone": "0912345678", "address": "Hạ Long"}})
    assert {e["field"] for e in r.json()["errors"]} == {"submission.applicant.name", "submission.applicant.id_number"}


async def test_the_body_limit_fits_the_largest_upload_while_json_bodies_stay_small(platform):
    settings = deps(platform).settings
    assert settings.max_body_bytes > settings.attachment_max_total_bytes + settings.submission_max_bytes
    # A JSON body (any route) over 1 MiB is refused before it is read, though uploads may be far larger.
    r = await platform.post(f"/dossiers/{AGENCY}-{today()}-0001/refuse-intake", json={"reason": "x" * (2 * MIB)},
                            headers=RECEPTION)
    assert r.status_code == 413 and r.json()["type"] == "/problems/payload-too-large"

    async def endless():
        yield b"--b\r\n"

    r = await platform.post("/dossiers", content=endless(), headers={
        **CITIZEN, "content-type": "multipart/form-data; boundary=b",
        "content-length": str(settings.max_body_bytes + 1)})
    assert r.status_code == 413 and r.json()["type"] == "/problems/payload-too-large"
    await nothing_changed(platform)


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 129, "ümlaut-key"])
async def test_an_invalid_idempotency_key_is_refused(platform, key):
    r = await platform.post("/dossiers", **form(), headers={**CITIZEN, "Idempotency-Key": key.encode()})
    assert r.status_code == 400 and r.json()["type"] == "/problems/invalid-idempotency-key"
    await nothing_changed(platform)


async def test_unknown_documents_are_refused_before_any_file_is_stored(platform):
    submission = {**ONLINE, "documents": [*ONLINE["documents"], {"code": "PASSPORT", "files": ["passport.jpg"]}]}
    r = await submit(platform, submission)
    assert r.status_code == 422 and r.json()["unknown"] == ["PASSPORT"]
    await nothing_changed(platform)


# -- Idempotency-Key ----------------------------------------------------------------------------------


async def test_the_same_request_with_the_same_key_gets_the_first_answer(platform):
    key = uuid.uuid4().hex
    first = await submit(platform, key=key)
    again = await submit(platform, key=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # security code included
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await count(platform) == 1
    # the record names no one and keeps the security code only sealed
    records = await platform.store.collection(KEYS).find({})
    dump = json.dumps(records)
    assert first.json()["security_code"] not in dump and "citizen1" not in dump and key not in dump


async def test_the_same_key_for_another_request_is_refused(platform):
    key = uuid.uuid4().hex
    assert (await submit(platform, key=key)).status_code == 201
    other = {**ONLINE, "result_channel": "post"}
    r = await submit(platform, other, key=key)
    assert r.status_code == 422 and r.json()["type"] == "/problems/idempotency-key-reused"
    r = await submit(platform, ONLINE, [("Tờ khai kết hôn.pdf", tiny_pdf("khac")), *list(FILES.items())[1:]], key=key)
    assert r.status_code == 422 and r.json()["type"] == "/problems/idempotency-key-reused"
    assert await count(platform) == 1


async def test_keys_belong_to_their_caller(platform):
    key = uuid.uuid4().hex
    mine = (await submit(platform, key=key)).json()
    theirs = (await submit(platform, headers=OTHER_CITIZEN, key=key)).json()
    assert mine["code"] != theirs["code"]
    assert await count(platform) == 2


async def test_a_failed_first_attempt_releases_the_key(platform):
    key = uuid.uuid4().hex
    failed = await submit(platform, {**ONLINE, "procedure_code": "9.999999"}, key=key)
    assert failed.status_code == 422 and failed.json()["type"] == "/problems/unknown-procedure"
    assert await count(platform, KEYS) == 0
    retried = await submit(platform, key=key)  # a corrected request under the same key does the work
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    assert await count(platform) == 1


async def test_a_key_in_use_by_a_running_request_answers_409_with_retry_after(platform):
    parts = intake_parts(platform)
    parts.idempotency.wait = 0.2  # how long a duplicate waits for the first one before the 409
    key = uuid.uuid4().hex
    files = list(FILES.items())
    submission, canonical = parse_json(json.dumps(ONLINE, ensure_ascii=False), location="submission")
    uploads = [Upload(name, "", len(data), sha(data), file=None) for name, data in files]
    fingerprint = Received(submission, canonical, uploads, "submission").fingerprint("online")
    # The first request, on another replica, has claimed the key and is still working.
    claim = await parts.idempotency.begin(subject="citizen1", key=key, fingerprint=fingerprint)
    r = await submit(platform, ONLINE, files, key=key)
    assert r.status_code == 409 and r.json()["type"] == "/problems/idempotency-key-in-use"
    assert int(r.headers["retry-after"]) >= 1
    assert await count(platform) == 0 and await stored_blobs(platform) == set()
    await parts.idempotency.release(claim)  # it failed: the key is free again
    assert (await submit(platform, ONLINE, files, key=key)).status_code == 201


async def test_a_request_that_died_after_saving_its_dossier_is_answered_from_it(platform):
    key = uuid.uuid4().hex
    first = (await submit(platform, key=key)).json()
    # As if the process died between the insert and recording the answer, longer ago than the lease.
    records = platform.store.collection(KEYS)
    [record] = await records.find({})
    stale = {**record, "state": "running", "status": None, "response": None,
             "started_at": time_key(utcnow() - timedelta(hours=1))}
    await records.save(stale, record["version"])
    again = await submit(platform, key=key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["code"] == first["code"] and again.json()["security_code"] == first["security_code"]
    assert await count(platform) == 1


async def test_ten_concurrent_identical_requests_with_one_key_make_one_dossier(platform):
    key = uuid.uuid4().hex

    async def client_that_honours_retry_after():
        for _ in range(20):
            r = await submit(platform, key=key)
            if r.status_code != 409:
                return r
            await asyncio.sleep(float(r.headers["retry-after"]) / 10)
        raise AssertionError("still running")

    answers = await asyncio.gather(*(client_that_honours_retry_after() for _ in range(10)))
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["code"] for a in answers}) == 1
    assert len({a.json()["security_code"] for a in answers}) == 1
    assert await count(platform) == 1
    assert sum(1 for a in answers if "idempotent-replayed" not in a.headers) == 1
    # the files of that one dossier, and no others
    detail = (await platform.get(f"/dossiers/{answers[0].json()['code']}", headers=RECEPTION)).json()
    assert await stored_blobs(platform) == {a["blob_id"] for d in detail["documents"] for a in d["attachments"]}


async def test_the_counter_takes_an_idempotency_key_too(platform):
    key = uuid.uuid4().hex
    counter = {**SUBMISSION, "result_channel": "counter"}
    first = await platform.post("/dossiers/counter", json=counter, headers={**RECEPTION, "Idempotency-Key": key})
    again = await platform.post("/dossiers/counter", json=counter, headers={**RECEPTION, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert await count(platform) == 1


# -- the sweeps -------------------------------------------------------------------------------------------


async def test_the_sweep_deletes_files_left_without_their_dossier(platform):
    blobs, pending = deps(platform).blobs, platform.store.collection(PENDING)
    code = f"{AGENCY}-{today()}-0042"  # a crash after storing the files, before the insert

    async def leave(batch: str, age: timedelta) -> list[str]:
        ids = [f"{code}-{batch}-01", f"{code}-{batch}-02"]
        for blob_id in ids:
            await blobs.put(blob_id, tiny_pdf(), filename="a.pdf", content_type="application/pdf")
        await pending.insert({"_id": f"{code}-{batch}", "code": code, "blob_ids": ids,
                              "at": time_key(utcnow() - age)})
        return ids

    old = await leave("dead", timedelta(minutes=15))
    young = await leave("busy", timedelta(minutes=1))  # may still be on its way to the insert
    assert await intake_parts(platform).attachments.sweep() == 2
    assert not any([await blobs.exists(b) for b in old])
    assert all([await blobs.exists(b) for b in young])
    assert [r["_id"] for r in await pending.find({})] == [f"{code}-busy"]


async def test_the_sweep_keeps_the_files_a_saved_dossier_references(platform):
    # A crash after the insert, before the pending record was removed: the dossier keeps its files.
    code = (await submit(platform)).json()["code"]
    detail = (await platform.get(f"/dossiers/{code}", headers=RECEPTION)).json()
    kept = [a["blob_id"] for d in detail["documents"] for a in d["attachments"]]
    blobs = deps(platform).blobs
    await blobs.put(f"{code}-extra-01", tiny_png(), filename="x.png", content_type="image/png")
    await platform.store.collection(PENDING).insert({"_id": f"{code}-extra", "code": code,
                                                     "blob_ids": [*kept, f"{code}-extra-01"],
                                                     "at": time_key(utcnow() - timedelta(hours=1))})
    assert await intake_parts(platform).attachments.sweep() == 1
    assert all([await blobs.exists(b) for b in kept]) and not await blobs.exists(f"{code}-extra-01")
    assert await count(platform, PENDING) == 0


async def test_idempotency_keys_are_dropped_after_24_hours(platform):
    key = uuid.uuid4().hex
    await submit(platform, key=key)
    sweep = intake_parts(platform).idempotency.sweep
    assert await sweep(now=utcnow() + timedelta(hours=23)) == 0
    assert await sweep(now=utcnow() + timedelta(hours=25)) == 1
    assert await count(platform, KEYS) == 0
    r = await submit(platform, {**ONLINE, "result_channel": "post"}, key=key)  # the key is free again
    assert r.status_code == 201 and await count(platform) == 2


# -- documents supplied later -----------------------------------------------------------------------------


async def test_a_resubmission_after_an_intake_supplement_brings_its_files(platform):
    only_tk = {**ONLINE, "documents": [ONLINE["documents"][0]]}
    code = (await submit(platform, only_tk)).json()["code"]
    r = await platform.post(f"/dossiers/{code}/request-intake-supplement", json={"reason": "Thiếu giấy xác nhận"},
                            headers=RECEPTION)
    assert r.status_code == 200, r.text
    before = await stored_blobs(platform)

    supplied = {"documents": [{"code": "XNTTHN", "files": ["xac-nhan.jpg"]}]}
    without_files = {"documents": [{"code": "XNTTHN"}]}
    refused = await platform.post(f"/dossiers/{code}/resubmit", **form(without_files), headers=CITIZEN)
    assert refused.status_code == 422 and refused.json()["type"] == "/problems/document-without-files"
    stranger = await platform.post(f"/dossiers/{code}/resubmit", **form(supplied), headers=OTHER_CITIZEN)
    assert stranger.status_code == 403
    assert await stored_blobs(platform) == before  # judged before any file was stored

    r = await platform.post(f"/dossiers/{code}/resubmit", **form(supplied), headers=CITIZEN)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "submitted"
    detail = (await platform.get(f"/dossiers/{code}", headers=RECEPTION)).json()
    [attachment] = next(d for d in detail["documents"] if d["code"] == "XNTTHN")["attachments"]
    assert attachment["filename"] == "xac-nhan.jpg" and attachment["content_type"] == "image/jpeg"
    download = await platform.get(f"/dossiers/{code}/attachments/{attachment['blob_id']}", headers=RECEPTION)
    assert download.content == tiny_jpeg()
    assert await count(platform, PENDING) == 0

    again = await platform.post(f"/dossiers/{code}/resubmit", **form(supplied), headers=CITIZEN)
    assert again.status_code == 409  # the state moved on: nothing stored
    assert await stored_blobs(platform) == before | {attachment["blob_id"]}


async def test_a_supplement_after_appraisal_brings_its_files(platform):
    code = (await submit(platform)).json()["code"]
    for path, body, who in [("receive", None, RECEPTION), ("transfer", {"to_agency": AGENCY}, RECEPTION),
                            ("assign", {"specialist": "spec1"}, LEADER),
                            ("request-supplement", {"reason": "Tờ khai thiếu chữ ký",
                                                    "items": [{"code": "TK", "name": "Tờ khai có chữ ký"}]},
                             SPECIALIST)]:
        r = await platform.post(f"/dossiers/{code}/{path}", json=body, headers=who)
        assert r.status_code == 200, (path, r.text)
    supplied = {"documents": [{"code": "TK", "files": ["to-khai-da-ky.pdf"]}]}
    r = await platform.post(f"/dossiers/{code}/provide-supplement", **form(supplied), headers=CITIZEN)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "assigned"
    detail = (await platform.get(f"/dossiers/{code}", headers=RECEPTION)).json()
    tk = next(d for d in detail["documents"] if d["code"] == "TK")
    assert [a["filename"] for a in tk["attachments"]] == ["Tờ khai kết hôn.pdf", "to-khai-da-ky.pdf"]


async def test_no_personal_data_reaches_the_logs(platform, caplog):
    caplog.set_level("DEBUG")  # everything of ours; the libraries at the level the platform sets them to
    for name in QUIET_LOGGERS:
        caplog.set_level("WARNING", logger=name)
    key = uuid.uuid4().hex
    answer = (await submit(platform, key=key)).json()
    await submit(platform, key=key)  # a replay
    await submit(platform, ONLINE, [("Tờ khai kết hôn.pdf", docx())])  # refused
    taken = f"{AGENCY}-{today()}-{int(answer['code'][-4:]) + 1:04d}"
    await platform.store.collection("dossiers").insert({"_id": taken, "code": taken, "documents": []})
    await submit(platform)  # a failed insert, its files deleted
    await intake_parts(platform).attachments.sweep(now=utcnow() + timedelta(hours=1))
    await intake_parts(platform).idempotency.sweep(now=utcnow() + timedelta(days=2))
    applicant = SUBMISSION["applicant"]
    for secret in (applicant["id_number"], applicant["phone"], applicant["email"], answer["security_code"],
                   "Tờ khai kết hôn", key):
        assert secret not in caplog.text
