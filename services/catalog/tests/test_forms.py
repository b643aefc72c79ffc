"""Form files: upload by a catalogue administrator, download by anyone; type checked by content."""

import io
import zipfile

import pytest

from catalog.app import create_app
from catalog.settings import CatalogSettings
from kit.bus.memory import MemoryBus
from kit.testing import as_user, serving

ADMIN = as_user("catalog1", "catalog_admin")
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"0" * 2000 + b"\n%%EOF"


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.fixture
async def client(store, tmp_path):
    bus = MemoryBus()
    async with serving(create_app(CatalogSettings(sqlite_dir=tmp_path), bus=bus, store=store)) as client:
        yield client
    await bus.stop()


async def upload(client, code, data, filename="to-khai.pdf", headers=ADMIN, title="Tờ khai đăng ký kết hôn"):
    return await client.post("/forms", data={"code": code, "title": title},
                             files={"file": (filename, data, "application/octet-stream")}, headers=headers)


@pytest.mark.parametrize("data, content_type", [
    (PDF, "application/pdf"),
    (docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
async def test_a_form_is_uploaded_then_downloaded_byte_for_byte(client, data, content_type):
    r = await upload(client, "TK-KH", data, filename="Tờ khai kết hôn.bin")
    assert r.status_code == 201, r.text
    form = r.json()
    assert form["content_type"] == content_type and form["size"] == len(data) and len(form["sha256"]) == 64
    download = await client.get("/forms/TK-KH/file")
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"].startswith(content_type)
    assert "T%E1%BB%9D" in download.headers["content-disposition"]  # the Vietnamese name, encoded
    assert [f["code"] for f in (await client.get("/forms")).json()] == ["TK-KH"]
    described = (await client.get("/forms/TK-KH")).json()
    assert described["title"] == "Tờ khai đăng ký kết hôn" and described["url"] == "/forms/TK-KH/file"


@pytest.mark.parametrize("data, filename", [
    (b"MZ\x90\x00 an executable named like a PDF", "to-khai.pdf"),
    (b"\x89PNG\r\n\x1a\n a picture", "to-khai.docx"),
    (b"just text", "to-khai.doc"),
])
async def test_a_file_that_is_not_a_document_is_refused_whatever_its_name(client, data, filename):
    r = await upload(client, "TK-X", data, filename=filename)
    assert r.status_code == 415 and r.json()["type"] == "/problems/not-a-document" and r.json()["field"] == "file"
    assert (await client.get("/forms/TK-X")).status_code == 404


async def test_oversized_empty_duplicate_and_badly_named_forms_are_refused(client):
    assert (await upload(client, "BIG", b"%PDF-" + b"0" * (10 * 1024 * 1024))).status_code == 413
    assert (await upload(client, "EMPTY", b"")).json()["field"] == "file"
    assert (await upload(client, "TK-KH", PDF)).status_code == 201
    assert (await upload(client, "TK-KH", PDF)).status_code == 409
    bad = await upload(client, "../../etc/passwd", PDF)
    assert bad.status_code == 422 and bad.json()["field"] == "code"
    assert [f["code"] for f in (await client.get("/forms")).json()] == ["TK-KH"]


async def test_only_catalogue_administrators_upload(client):
    assert (await upload(client, "TK-KH", PDF, headers={})).status_code == 401
    assert (await upload(client, "TK-KH", PDF, headers=as_user("c", "citizen"))).status_code == 403
    assert (await client.get("/forms/TK-KH")).status_code == 404
