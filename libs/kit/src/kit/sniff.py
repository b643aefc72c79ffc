"""What a file is, judged by its content (magic bytes), never by its name or the type a client claims.

`sniff` names the type of the common formats people upload, allowed or not, so a refusal can say
what the file really is ("this is a Word document", "this is an HEIC photo"). Each service then
decides which of these types it accepts (`DOCUMENTS` for the catalogue's forms, `SCANS` for the
attachments of a dossier)."""

import io
import posixpath
import zipfile

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
TIFF = "image/tiff"
BMP = "image/bmp"
HEIC = "image/heic"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ZIP = "application/zip"
RAR = "application/vnd.rar"
SEVEN_ZIP = "application/x-7z-compressed"
GZIP = "application/gzip"
EXE = "application/vnd.microsoft.portable-executable"
ELF = "application/x-executable"
HTML = "text/html"
SVG = "image/svg+xml"
XML = "application/xml"
TEXT = "text/plain"
EMPTY = "empty"
UNKNOWN = "application/octet-stream"

DOCUMENTS = frozenset({PDF, DOC, DOCX, XLS, XLSX, ODT, ODS})  # forms a citizen opens and fills in
SCANS = frozenset({PDF, JPEG, PNG})  # the files of a dossier: scanned or photographed papers

# The file name endings that go with a type (lower case). A name whose ending belongs to another
# type contradicts the content: a PDF named "scan.png".
EXTENSIONS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",), PNG: (".png",), JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"), GIF: (".gif",), WEBP: (".webp",),
    TIFF: (".tif", ".tiff"), BMP: (".bmp",), HEIC: (".heic", ".heif"), DOC: (".doc",), XLS: (".xls",),
    DOCX: (".docx",), XLSX: (".xlsx",), ODT: (".odt",), ODS: (".ods",), ZIP: (".zip",), RAR: (".rar",),
    SEVEN_ZIP: (".7z",), GZIP: (".gz", ".tgz"), EXE: (".exe", ".dll"), HTML: (".html", ".htm"), SVG: (".svg",),
    XML: (".xml",), TEXT: (".txt", ".csv"),
}

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"Rar!\x1a\x07", RAR),
    (b"7z\xbc\xaf\x27\x1c", SEVEN_ZIP),
    (b"\x1f\x8b", GZIP),
    (b"MZ", EXE),
    (b"\x7fELF", ELF),
]
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Word/Excel
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
HEAD_BYTES = 4096  # enough of the start of a file for every check but the zip and OLE2 ones
NEEDS_WHOLE_FILE = (b"PK\x03\x04", _OLE2)  # `sniff` tells these apart only from the whole file


def sniff(data: bytes) -> str:
    """The MIME type of `data` by its content: one of the constants above, `EMPTY` for no bytes,
    `UNKNOWN` for binary data of no known type."""
    if not data:
        return EMPTY
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return HEIC
    if data.startswith(b"BM") and len(data) > 14 and int.from_bytes(data[2:6], "little") == len(data):
        return BMP
    if data.startswith(_OLE2):
        return DOC if b"W\x00o\x00r\x00d\x00D\x00o\x00c\x00u\x00m\x00e\x00n\x00t" in data else XLS
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    return _text_kind(data[:HEAD_BYTES])


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                return mimetype if mimetype in (ODT, ODS) else ZIP
            if "word/document.xml" in names:
                return DOCX
            if "xl/workbook.xml" in names:
                return XLSX
    except zipfile.BadZipFile:  # cut short, or only its start was given
        return ZIP
    return ZIP


def _text_kind(head: bytes) -> str:
    if b"\x00" in head:
        return UNKNOWN
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the window
            return UNKNOWN
        text = head[:exc.start].decode("utf-8")
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith(("<!doctype html", "<html")):
        return HTML
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return SVG
    if start.startswith("<?xml"):
        return XML
    return TEXT


def sniff_document(data: bytes) -> str | None:
    """The document type of `data` (PDF, Word, Excel, OpenDocument), or None if it is not a document."""
    kind = sniff(data)
    return kind if kind in DOCUMENTS else None


def extension_of(filename: str) -> str:
    """The lower-case ending of a file name (".pdf"), or "" when it has none."""
    return posixpath.splitext(filename.lower())[1]


def name_fits(filename: str, content_type: str) -> bool:
    """True when the name ends like the content's own type ("scan.pdf" for a PDF): a PDF named
    "scan.png", or "scan" with no ending, does not fit."""
    return extension_of(filename) in EXTENSIONS.get(content_type, ())
