"""The files of a dossier: read from a multipart request, checked by content (PDF, JPEG, PNG), stored
with their SHA-256 under ids derived from the dossier code, and never left without their dossier.

Storing is staged: a "pending upload" record (code, blob ids, time) is written before the first file,
the files are stored, the dossier is saved, and only then is the record removed. If the save fails,
the files it does not reference are deleted at once; if the process dies in between, the periodic
sweep finds the record after a grace period and does the same. Nothing here logs a file name (a
citizen's file names often carry their name or ID number)."""

import asyncio
import hashlib
import json
import logging
import secrets
import unicodedata
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from kit import sniff
from kit.blobs import BlobStore
from kit.events import utcnow
from kit.request_keys import time_key
from kit.problems import Problem
from kit.store import DocumentStore

from dossier.domain import Attachment
from dossier.store import DOSSIERS

log = logging.getLogger("dossier.attachments")

PENDING = "pending_uploads"
ACCEPTED = sniff.SCANS  # PDF, JPEG, PNG
SUBMISSION_PART, FILES_PART = "submission", "files"
MAX_FILENAME = 255
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_files: int
    max_json_bytes: int

    @classmethod
    def of(cls, settings) -> "Limits":
        return cls(max_file_bytes=settings.attachment_max_bytes, max_files=settings.attachment_max_files,
                   max_json_bytes=settings.submission_max_bytes)


@dataclass
class Upload:
    """One uploaded file that passed every check, with its detected type and SHA-256."""

    filename: str
    content_type: str
    size: int
    sha256: str
    file: UploadFile = field(repr=False)

    async def read(self) -> bytes:
        await self.file.seek(0)
        return await self.file.read()


@dataclass
class Received:
    """A parsed intake request: the JSON submission (the `submission` part, or the whole body when the
    request is JSON) and the checked files. `location` prefixes field names in validation errors."""

    submission: Any
    canonical: bytes
    uploads: list[Upload]
    location: str
    form: FormData | None = None

    def fingerprint(self, route: str) -> str:
        """What makes two requests "the same" for an Idempotency-Key: the route, the JSON (keys sorted)
        and every file's name and SHA-256."""
        h = hashlib.sha256(route.encode() + b"\n" + self.canonical)
        for name, digest in sorted((u.filename, u.sha256) for u in self.uploads):
            h.update(f"\n{name}\0{digest}".encode())
        return h.hexdigest()

    async def close(self) -> None:
        if self.form is not None:
            await self.form.close()


# -- reading the request --------------------------------------------------------------------------


async def read_request(request: Request, limits: Limits) -> Received:
    """Parse `multipart/form-data` (a `submission` JSON part and `files` parts) or a JSON body (a
    submission without files), and check every file. Raises a Problem naming what is wrong."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        return await _read_multipart(request, limits)
    if media == "application/json" or media.endswith("+json"):
        raw = await _read_capped(request, limits.max_json_bytes)
        submission, canonical = parse_json(raw, location="body")
        return Received(submission, canonical, [], "body")
    raise Problem(415, "unsupported-media-type", "Unsupported media type",
                  "Send multipart/form-data (a 'submission' JSON part and the 'files'), or application/json "
                  "(a submission without files).", accepted=["multipart/form-data", "application/json"])


async def _read_capped(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _submission_too_large(limit)
    return bytes(body)


def _submission_too_large(limit: int) -> Problem:
    return Problem(413, "submission-too-large", "Submission too large",
                   f"The JSON submission may be at most {limit // 1024} KiB.", field=SUBMISSION_PART,
                   limit_bytes=limit)


def parse_json(raw: bytes | str, *, location: str) -> tuple[Any, bytes]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        where = "The body" if location == "body" else f"The part '{location}'"
        raise Problem(400, "malformed-json", "Malformed JSON", f"{where} is not valid JSON: {exc}.",
                      field=location) from None
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return value, canonical


async def _read_multipart(request: Request, limits: Limits) -> Received:
    try:
        # One file more than allowed is parsed, so that "too many" is ours to say; the body limit
        # bounds the rest. A non-file part (the JSON) may be at most max_json_bytes.
        form = await request.form(max_files=limits.max_files + 1, max_fields=8, max_part_size=limits.max_json_bytes)
    except HTTPException as exc:  # Starlette turns the parser's refusals into a 400 with its message
        raise _parser_problem(str(exc.detail), limits) from None
    try:
        return await _received(form, limits)
    except BaseException:
        await form.close()
        raise


def _parser_problem(message: str, limits: Limits) -> Problem:
    if message.startswith("Too many files"):
        return _too_many(limits, None)
    if message.startswith("Part exceeded maximum size"):
        return _submission_too_large(limits.max_json_bytes)
    if message.startswith("Too many fields"):
        return Problem(400, "unexpected-form-part", "Unexpected form parts",
                       f"Send one '{SUBMISSION_PART}' part and the '{FILES_PART}' parts, nothing else.")
    return Problem(400, "malformed-multipart", "Malformed multipart body", message)


def _too_many(limits: Limits, count: int | None) -> Problem:
    sent = f"{count} files were sent" if count is not None else "more files were sent"
    return Problem(413, "too-many-attachments", "Too many files",
                   f"At most {limits.max_files} files per request; {sent}.", field=FILES_PART,
                   max_files=limits.max_files, **({"count": count} if count is not None else {}))


async def _received(form: FormData, limits: Limits) -> Received:
    texts: list[str] = []
    files: list[UploadFile] = []
    unexpected: list[str] = []
    for name, value in form.multi_items():
        if name == SUBMISSION_PART:
            if isinstance(value, UploadFile):  # `curl -F submission=@dossier.json`
                raw = await value.read(limits.max_json_bytes + 1)
                if len(raw) > limits.max_json_bytes:
                    raise _submission_too_large(limits.max_json_bytes)
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise Problem(400, "malformed-json", "Malformed JSON",
                                  f"The part '{SUBMISSION_PART}' is not UTF-8 text.", field=SUBMISSION_PART) from None
            texts.append(value)
        elif name == FILES_PART and isinstance(value, UploadFile):
            files.append(value)
        else:
            unexpected.append(name if name != FILES_PART else f"{FILES_PART} (without a file name)")
    if unexpected:
        raise Problem(400, "unexpected-form-part", "Unexpected form parts",
                      f"Only one '{SUBMISSION_PART}' part and '{FILES_PART}' file parts are read; not: "
                      f"{', '.join(unexpected)}.", unexpected=unexpected)
    if len(texts) != 1:
        raise Problem(400, "missing-submission" if not texts else "repeated-submission",
                      "Missing submission part" if not texts else "Repeated submission part",
                      f"Send exactly one part named '{SUBMISSION_PART}' holding the JSON submission.",
                      field=SUBMISSION_PART)
    submission, canonical = parse_json(texts[0], location=SUBMISSION_PART)
    uploads = await check_files(files, limits)
    return Received(submission, canonical, uploads, SUBMISSION_PART, form)


# -- checking the files ---------------------------------------------------------------------------


def clean_filename(raw: str | None) -> str | None:
    """The name as compared and stored: the last path segment (old browsers send a full path), in
    Unicode NFC (so "Tờ khai" typed on a Mac matches). None if no usable name is left."""
    name = unicodedata.normalize("NFC", (raw or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if not name or name in (".", "..") or len(name) > MAX_FILENAME:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return None
    return name


async def check_files(files: list[UploadFile], limits: Limits) -> list[Upload]:
    """Count, names, sizes and types, each refusal listing every file it concerns. Nothing is stored."""
    if len(files) > limits.max_files:
        raise _too_many(limits, len(files))
    names = [clean_filename(f.filename) for f in files]
    if any(n is None for n in names):
        bad = [f.filename or "" for f, n in zip(files, names) if n is None]
        raise Problem(400, "invalid-filename", "Invalid file name",
                      f"A file name has 1–{MAX_FILENAME} characters, no control characters, and is not '.' or '..'.",
                      field=FILES_PART, files=bad)
    too_large = [{"filename": n, "size": f.size} for f, n in zip(files, names) if (f.size or 0) > limits.max_file_bytes]
    if too_large:
        raise Problem(413, "attachment-too-large", "File too large",
                      f"A file may be at most {limits.max_file_bytes // (1024 * 1024)} MiB: "
                      f"{', '.join(t['filename'] for t in too_large)}.", field=FILES_PART,
                      max_bytes=limits.max_file_bytes, files=too_large)
    empty = [n for f, n in zip(files, names) if not f.size]
    if empty:
        raise Problem(422, "empty-attachment", "Empty file", f"These files are empty: {', '.join(empty)}.",
                      field=FILES_PART, files=empty)
    kinds = [await _sniff(f) for f in files]
    wrong = [{"filename": n, "detected": k} for n, k in zip(names, kinds) if k not in ACCEPTED]
    if wrong:
        raise Problem(415, "unsupported-attachment-type", "File type not accepted",
                      "Only PDF, JPEG and PNG files are accepted (judged by their content): "
                      + ", ".join(f"{w['filename']} is {w['detected']}" for w in wrong) + ".",
                      field=FILES_PART, accepted=sorted(ACCEPTED), files=wrong)
    misnamed = [{"filename": n, "detected": k, "expected_extensions": list(sniff.EXTENSIONS[k])}
                for n, k in zip(names, kinds) if not sniff.name_fits(n, k)]
    if misnamed:
        raise Problem(415, "attachment-name-mismatch", "File name does not match its content",
                      "Name each file after what it holds: "
                      + ", ".join(f"{m['filename']} is {m['detected']} (name it *{m['expected_extensions'][0]})"
                                  for m in misnamed) + ".", field=FILES_PART, files=misnamed)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise Problem(422, "duplicate-filenames", "The same file name twice",
                      f"Each file needs its own name: {', '.join(twice)} was uploaded more than once.",
                      field=FILES_PART, uploaded_twice=twice, listed_twice=[])
    return [Upload(filename=n, content_type=k, size=f.size, sha256=await _sha256(f), file=f)
            for f, n, k in zip(files, names, kinds)]


async def _sniff(f: UploadFile) -> str:
    await f.seek(0)
    head = await f.read(sniff.HEAD_BYTES)
    if head.startswith(sniff.NEEDS_WHOLE_FILE):  # an office file or an archive: tell which (for the message)
        await f.seek(0)
        head = await f.read()
    return sniff.sniff(head)


async def _sha256(f: UploadFile) -> str:
    await f.seek(0)
    h = hashlib.sha256()
    while chunk := await f.read(_CHUNK):
        h.update(chunk)
    return h.hexdigest()


def assign(documents: Iterable[tuple[str, list[str]]], uploads: list[Upload], *, files_required: bool) -> None:
    """Check that the files listed per document and the files uploaded are the same set, each named once;
    and, when `files_required`, that every document lists at least one file."""
    documents = list(documents)
    listed = [name for _, names in documents for name in names]
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if twice:
        raise Problem(422, "duplicate-filenames", "The same file name twice",
                      f"List each file once, under one document: {', '.join(twice)}.", field="documents",
                      listed_twice=twice, uploaded_twice=[])
    if files_required:
        bare = [code for code, names in documents if not names]
        if bare:
            raise Problem(422, "document-without-files", "A document has no file",
                          f"Attach at least one file (PDF, JPEG or PNG) for each document: {', '.join(bare)}.",
                          field="documents", documents=bare)
    uploaded = [u.filename for u in uploads]
    not_uploaded = [n for n in listed if n not in set(uploaded)]
    not_listed = [n for n in uploaded if n not in set(listed)]
    if not_uploaded or not_listed:
        parts = []
        if not_uploaded:
            parts.append(f"listed but not uploaded: {', '.join(not_uploaded)}")
        if not_listed:
            parts.append(f"uploaded but not listed: {', '.join(not_listed)}")
        raise Problem(422, "attachment-list-mismatch", "The files do not match the list",
                      "Each document lists its files by name, and exactly those files are uploaded; "
                      f"{'; '.join(parts)}.",
                      field="documents", not_uploaded=not_uploaded, not_listed=not_listed, listed=listed,
                      uploaded=uploaded)


# -- storing them -----------------------------------------------------------------------------------


class Attachments:
    def __init__(self, store: DocumentStore, blobs: BlobStore, *, grace_seconds: float):
        self.pending = store.collection(PENDING)
        self.dossiers = store.collection(DOSSIERS)
        self.blobs = blobs
        self.grace = timedelta(seconds=grace_seconds)

    async def ensure_indexes(self) -> None:
        await self.pending.ensure_index(["at"])

    @asynccontextmanager
    async def staged(self, code: str, uploads: list[Upload]) -> AsyncIterator[dict[str, Attachment]]:
        """Store `uploads` for dossier `code` and yield their attachments by file name. Save the dossier
        inside the block: if the block fails, the files the stored dossier does not reference are
        deleted before the error goes on; if the process dies, the sweep deletes them later."""
        if not uploads:
            yield {}
            return
        batch = secrets.token_hex(4)  # ids never collide, even with a dossier whose code was reused
        ids = {u.filename: f"{code}-{batch}-{i:02d}" for i, u in enumerate(uploads, 1)}
        record = {"_id": f"{code}-{batch}", "code": code, "blob_ids": list(ids.values()), "at": time_key(utcnow())}
        await self.pending.insert(record)
        try:
            stored: dict[str, Attachment] = {}
            for upload in uploads:
                blob = await self.blobs.put(ids[upload.filename], await upload.read(), filename=upload.filename,
                                            content_type=upload.content_type)
                if blob.sha256 != upload.sha256:
                    raise RuntimeError("an uploaded file changed between its check and its storage")
                stored[upload.filename] = Attachment(blob_id=blob.id, filename=blob.filename,
                                                     content_type=blob.content_type, size=blob.size,
                                                     sha256=blob.sha256)
            yield stored
        except BaseException:
            try:  # shielded: a client that hangs up does not leave the clean-up half done
                await asyncio.shield(self._settle(record))
            except Exception as exc:
                log.warning("files of a failed intake left to the sweep (%s)", type(exc).__name__)
            raise
        try:
            await self.pending.delete(record["_id"])
        except Exception as exc:  # harmless: the sweep finds every file referenced and drops the record
            log.warning("pending upload record not removed (%s)", type(exc).__name__)

    async def _referenced(self, code: str) -> set[str]:
        doc = await self.dossiers.get(code)
        if doc is None:
            return set()
        return {a["blob_id"] for d in doc.get("documents", []) for a in d.get("attachments", [])}

    async def _settle(self, record: dict) -> int:
        """Delete the record's files that its dossier does not reference (all of them if the dossier
        does not exist), then the record. A write that did reach the store keeps its files."""
        referenced = await self._referenced(record["code"])
        orphans = [b for b in record["blob_ids"] if b not in referenced]
        for blob_id in orphans:
            await self.blobs.delete(blob_id)
        await self.pending.delete(record["_id"])
        return len(orphans)

    async def sweep(self, *, now: datetime | None = None, limit: int = 100) -> int:
        """Settle the pending uploads older than the grace period; returns how many files were deleted."""
        cutoff = time_key((now or utcnow()) - self.grace)
        deleted = 0
        for record in await self.pending.find({"at": {"$lt": cutoff}}, sort=[("at", 1)], limit=limit):
            deleted += await self._settle(record)
        if deleted:
            log.info("orphan attachments deleted", extra={"files": deleted})
        return deleted
