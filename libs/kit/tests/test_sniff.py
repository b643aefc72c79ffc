"""Content sniffing: the type comes from the bytes, whatever the name says."""

import io
import struct
import zipfile
import zlib

import pytest

from kit import sniff
from kit.sniff import name_fits, sniff_document

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def archive(*names: str, mimetype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        if mimetype:
            z.writestr("mimetype", mimetype)
        for name in names:
            z.writestr(name, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize("data, expected", [
    (PDF, sniff.PDF),
    (png(), sniff.PNG),
    (JPEG, sniff.JPEG),
    (b"GIF89a\x01\x00\x01\x00", sniff.GIF),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", sniff.WEBP),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", sniff.HEIC),
    (b"II*\x00\x08\x00\x00\x00", sniff.TIFF),
    (archive("word/document.xml"), sniff.DOCX),
    (archive("xl/workbook.xml"), sniff.XLSX),
    (archive("content.xml", mimetype=sniff.ODT), sniff.ODT),
    (archive("readme.txt"), sniff.ZIP),
    (b"PK\x03\x04 cut short", sniff.ZIP),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le"), sniff.DOC),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 workbook", sniff.XLS),
    (b"MZ\x90\x00 an executable", sniff.EXE),
    (b"\x7fELF\x02\x01\x01", sniff.ELF),
    (b"\xef\xbb\xbf<!DOCTYPE html><html></html>", sniff.HTML),
    (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", sniff.SVG),
    ("Tờ khai đăng ký kết hôn".encode(), sniff.TEXT),
    (b"\x00\x01\x02\x03 binary", sniff.UNKNOWN),
    (b"", sniff.EMPTY),
])
def test_the_type_is_named_by_the_content(data, expected):
    assert sniff.sniff(data) == expected


def test_a_text_cut_in_the_middle_of_a_character_is_still_text():
    data = ("ế" * 3000).encode()[:sniff.HEAD_BYTES]  # 3-byte characters: the window ends inside one
    assert sniff.sniff(data[:sniff.HEAD_BYTES - 1]) == sniff.TEXT


def test_documents_are_the_forms_a_citizen_fills_in():
    assert sniff_document(PDF) == sniff.PDF
    assert sniff_document(archive("word/document.xml")) == sniff.DOCX
    assert sniff_document(png()) is None and sniff_document(archive("a.txt")) is None
    assert sniff_document(b"just text") is None


@pytest.mark.parametrize("filename, content_type, fits", [
    ("scan.pdf", sniff.PDF, True),
    ("SCAN.PDF", sniff.PDF, True),
    ("Giấy khai sinh.jpeg", sniff.JPEG, True),
    ("ảnh.JPG", sniff.JPEG, True),
    ("scan.png", sniff.PDF, False),  # a PDF named like a picture
    ("scan", sniff.PDF, False),
    ("scan.pdf.exe", sniff.PDF, False),
    ("photo.png", sniff.PNG, True),
])
def test_a_name_fits_only_the_ending_of_its_own_type(filename, content_type, fits):
    assert name_fits(filename, content_type) is fits
