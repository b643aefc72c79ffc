"""Real files for the intake tests (a tiny valid PDF, PNG and JPEG, built here) and the multipart form
of a submission: a `submission` JSON part and one `files` part per listed file."""

import io
import json
import struct
import zlib

from PIL import Image

from .conftest import SUBMISSION


def tiny_pdf(text: str = "Tờ khai") -> bytes:
    """A one-page PDF with a correct cross-reference table (opens in any reader)."""
    content = f"BT /F1 12 Tf 20 100 Td ({text.encode('ascii', 'replace').decode()}) Tj ET".encode()
    objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
               b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Contents 4 0 R"
               b"/Resources<</Font<</F1 5 0 R>>>>>>",
               b"<</Length %d>>stream\n" % len(content) + content + b"\nendstream",
               b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))  # red, filter byte 0 per row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 90, 160)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


CONTENT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def file_for(name: str) -> bytes:
    ending = name.lower().rsplit(".", 1)[-1]
    return {"pdf": tiny_pdf, "png": tiny_png, "jpg": tiny_jpeg, "jpeg": tiny_jpeg}.get(ending, tiny_pdf)()


ONLINE = {**SUBMISSION, "documents": [{"code": "TK", "originals": 1, "files": ["Tờ khai kết hôn.pdf"]},
                                      {"code": "XNTTHN", "originals": 1, "files": ["xac-nhan.png", "ảnh chụp.jpg"]}]}


def form(submission: dict | None = None, files: list[tuple[str, bytes]] | None = None, *,
         claimed_type: str = "application/octet-stream") -> dict:
    """httpx keyword arguments for a multipart request. Without `files`, one real file of the right
    type per listed name. The type a client claims is ignored by the service: it reads the content."""
    submission = ONLINE if submission is None else submission
    if files is None:
        files = [(name, file_for(name)) for d in submission.get("documents", []) for name in d.get("files", [])]
    # The JSON travels as a part without a file name (a form field), typed application/json.
    part = ("submission", (None, json.dumps(submission, ensure_ascii=False).encode(), "application/json"))
    return {"files": [part, *(("files", (name, data, claimed_type)) for name, data in files)]}


def with_files(submission: dict) -> dict:
    """The submission with one file named after each document that lists none (as an online submission
    needs)."""
    return {**submission, "documents": [{**d, "files": d.get("files") or [f"{d['code'].lower()}.pdf"]}
                                        for d in submission.get("documents", [])]}


def online_form(submission: dict | None = None) -> dict:
    """httpx keyword arguments for an online submission with a real PDF for each of its documents."""
    return form(with_files(submission or SUBMISSION))
