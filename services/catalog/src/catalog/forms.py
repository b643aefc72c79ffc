"""Form files that go with required documents (mẫu đơn, tờ khai). The type is decided by the
file's content, not its name: a form must be a document a citizen can open and fill in."""

import re

from pydantic import BaseModel

from kit.blobs import BlobNotFound, BlobStore
from kit.problems import NotFound, Problem
from kit.sniff import sniff_document
from kit.store import Collection, DuplicateKey

MAX_FORM_BYTES = 10 * 1024 * 1024
FORM_CODE = re.compile(r"^[A-Za-z0-9._-]{1,50}$")


class FormRead(BaseModel):
    code: str
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str


class Forms:
    def __init__(self, coll: Collection, blobs: BlobStore):
        self.coll = coll
        self.blobs = blobs

    async def upload(self, *, code: str, title: str, filename: str, data: bytes) -> FormRead:
        if not FORM_CODE.match(code):
            raise Problem(422, "invalid-form-code", "Invalid form code",
                          "A form code has 1–50 letters, digits, dots, dashes or underscores.", field="code")
        if not data:
            raise Problem(422, "empty-file", "Empty file", "The uploaded file is empty.", field="file")
        if len(data) > MAX_FORM_BYTES:
            raise Problem(413, "file-too-large", "Form file too large",
                          f"A form may be at most {MAX_FORM_BYTES // 1024 // 1024} MiB.", field="file")
        content_type = sniff_document(data)
        if content_type is None:
            raise Problem(415, "not-a-document", "Not a document",
                          "A form must be a PDF, Word, Excel or OpenDocument file (checked by content, not name).",
                          field="file")
        if await self.coll.get(code) is not None:
            raise Problem(409, "form-exists", "Form already exists", f"A form '{code}' exists.", field="code")
        try:
            blob = await self.blobs.put(f"form-{code}", data, filename=filename, content_type=content_type)
        except DuplicateKey:  # a concurrent upload of the same code won
            raise Problem(409, "form-exists", "Form already exists", f"A form '{code}' exists.", field="code") from None
        form = FormRead(code=code, title=title, filename=filename, content_type=content_type, size=blob.size,
                        sha256=blob.sha256, url=f"/forms/{code}/file")
        try:
            await self.coll.insert({"_id": code, **form.model_dump()})
        except DuplicateKey:
            raise Problem(409, "form-exists", "Form already exists", f"A form '{code}' exists.", field="code") from None
        return form

    async def get(self, code: str) -> FormRead:
        doc = await self.coll.get(code)
        if doc is None:
            raise NotFound("Form", code)
        return FormRead.model_validate(doc)

    async def list(self) -> list[FormRead]:
        return [FormRead.model_validate(d) for d in await self.coll.find({}, sort=[("_id", 1)])]

    async def file(self, code: str) -> tuple[FormRead, bytes]:
        form = await self.get(code)
        try:
            _, data = await self.blobs.get(f"form-{code}")
        except BlobNotFound:
            raise NotFound("Form file", code) from None
        return form, data
