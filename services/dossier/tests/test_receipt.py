"""The printed receipt, checked the way a person would: read its text, scan its QR code."""

import ctypes
import hashlib
import unicodedata
from datetime import UTC, datetime

import pydantic
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp

from dossier.receipt import Receipt, ReceiptDocument, ReceiptFile, render_receipt

LOOKUP_URL = "https://dichvucong.quangninh.gov.vn/tra-cuu-ho-so?ma=000.00.21.H49-261123-0001"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def receipt(**changes) -> Receipt:
    fields = dict(
        centre_name="Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh",
        centre_address="Tầng 1, Trụ sở Liên cơ quan số 3, phường Hồng Hà, thành phố Hạ Long",
        centre_phone="0203 3 656 656",
        dossier_code="000.00.21.H49-261123-0001",
        security_code="7KQ3M9XA",
        applicant_name="Nguyễn Thị Hương",
        applicant_address="Số 12, tổ 3, khu 5, phường Bạch Đằng, Hạ Long, Quảng Ninh",
        applicant_phone="0912345678",
        applicant_email="huong@example.vn",
        procedure_code="1.001193",
        procedure_name="Đăng ký khai sinh có yếu tố nước ngoài",
        documents=[
            ReceiptDocument(name="Tờ khai đăng ký khai sinh", originals=1, files=[
                ReceiptFile(filename="tờ-khai.pdf", sha256=digest("tờ khai"), size=182_044)]),
            ReceiptDocument(name="Giấy chứng sinh do cơ sở y tế cấp", copies=1, files=[
                ReceiptFile(filename="giấy-chứng-sinh.jpg", sha256=digest("chứng sinh"), size=1_204_551),
                ReceiptFile(filename="mặt-sau.jpg", sha256=digest("mặt sau"), size=980_112)]),
            ReceiptDocument(name="Giấy xác nhận tình trạng hôn nhân", originals=1),
        ],
        sets=1,
        processing_time="15 ngày làm việc",
        submitted_at=datetime(2026, 11, 23, 1, 5, tzinfo=UTC),
        received_at=datetime(2026, 11, 23, 2, 0, tzinfo=UTC),
        received_by="Trần Văn Bình",
        # 18:45 UTC is 01:45 the next day in Vietnam (UTC+7).
        appointment_at=datetime(2026, 12, 14, 18, 45, tzinfo=UTC),
        result_channel="post",
        ledger_entry="Vào Sổ theo dõi hồ sơ, Quyển số 03, Số thứ tự 0127",
        fee_status="Đã nộp lệ phí 50.000 đồng",
        lookup_url=LOOKUP_URL,
    )
    return Receipt(**fields | changes)


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace made one space, so wrapped lines read on."""
    doc = pdfium.PdfDocument(pdf)
    return [" ".join(page.get_textpage().get_text_bounded().split()) for page in doc]


def scan_qr_codes(pdf: bytes) -> list[str]:
    page = pdfium.PdfDocument(pdf)[0]
    image = page.render(scale=150 / 72).to_pil()  # a 150 dpi scan
    return [code.text for code in zxingcpp.read_barcodes(image) if code.format == zxingcpp.BarcodeFormat.QRCode]


def link_targets(pdf: bytes) -> list[str]:
    """The URIs of the link annotations on page 1: what clicking opens."""
    doc = pdfium.PdfDocument(pdf)
    page, position, link, targets = doc[0], ctypes.c_int(0), pdfium_c.FPDF_LINK(), []
    while pdfium_c.FPDFLink_Enumerate(page.raw, ctypes.byref(position), ctypes.byref(link)):
        action = pdfium_c.FPDFLink_GetAction(link)
        size = pdfium_c.FPDFAction_GetURIPath(doc.raw, action, None, 0)
        buffer = ctypes.create_string_buffer(size)
        pdfium_c.FPDFAction_GetURIPath(doc.raw, action, buffer, size)
        targets.append(buffer.value.decode())
    return targets


def test_the_receipt_prints_what_the_applicant_checks():
    pdf = render_receipt(receipt())

    assert pdf.startswith(b"%PDF-")
    [text] = page_texts(pdf)  # a short dossier fits on one page
    for expected in [
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG TỈNH QUẢNG NINH",
        "Mã hồ sơ: 000.00.21.H49-261123-0001",
        "Mã bảo mật (dùng để tra cứu): 7KQ3M9XA",
        "Tiếp nhận hồ sơ của: Nguyễn Thị Hương",
        "Đăng ký khai sinh có yếu tố nước ngoài",
        "Tờ khai đăng ký khai sinh",
        "Giấy chứng sinh do cơ sở y tế cấp",
        "Giấy xác nhận tình trạng hôn nhân",
        digest("tờ khai"), digest("chứng sinh"), digest("mặt sau"),
        "tờ-khai.pdf", "giấy-chứng-sinh.jpg (1,1 MB)",
        "Số lượng hồ sơ: 1 bộ",
        "15 ngày làm việc",
        "Thời gian nộp hồ sơ: 08 giờ 05 phút, ngày 23/11/2026",
        "Thời gian trả kết quả giải quyết hồ sơ: 01 giờ 45 phút, ngày 15/12/2026",
        "Nhận qua dịch vụ bưu chính",
        "Đã nộp lệ phí 50.000 đồng",
        "Vào Sổ theo dõi hồ sơ, Quyển số 03, Số thứ tự 0127",
        "NGƯỜI NỘP HỒ SƠ (Ký và ghi rõ họ tên)",
        "NGƯỜI TIẾP NHẬN HỒ SƠ (Ký và ghi rõ họ tên)",
        "Trần Văn Bình",
        "Quét mã QR để tra cứu tình trạng hồ sơ",
        LOOKUP_URL,
    ]:
        assert expected in text
    assert "PHIẾU XÁC NHẬN" not in text
    assert "Sẽ được thông báo" not in text


def test_the_qr_code_scans_to_the_lookup_page_and_the_printed_link_opens_it():
    pdf = render_receipt(receipt())

    assert scan_qr_codes(pdf) == [LOOKUP_URL]
    assert set(link_targets(pdf)) == {LOOKUP_URL}


@pytest.mark.parametrize(("channel", "wording"), [("counter", "Nhận tại Bộ phận Một cửa"),
                                                  ("online", "Nhận trực tuyến")], ids=["counter", "online"])
def test_each_result_channel_is_worded_as_on_the_form(channel, wording):
    [text] = page_texts(render_receipt(receipt(result_channel=channel)))
    assert f"Hình thức nhận kết quả: {wording}" in text


def test_an_online_submission_not_yet_received_gets_an_acknowledgement():
    pdf = render_receipt(receipt(appointment_at=None, received_at=None, received_by=None,
                                 result_channel="online"))

    [text] = page_texts(pdf)
    assert "PHIẾU XÁC NHẬN NỘP HỒ SƠ TRỰC TUYẾN" in text
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" not in text
    assert "Thời gian trả kết quả giải quyết hồ sơ: Sẽ được thông báo khi hồ sơ được tiếp nhận" in text
    assert "Người nộp hồ sơ: Nguyễn Thị Hương" in text
    assert "Mã bảo mật (dùng để tra cứu): 7KQ3M9XA" in text
    assert scan_qr_codes(pdf) == [LOOKUP_URL]


def test_a_long_document_list_runs_over_pages_without_losing_a_row():
    documents = [
        ReceiptDocument(name=f"Giấy tờ thứ {i:02d}: bản sao chứng thực hợp đồng chuyển nhượng quyền sử dụng đất",
                        originals=1, copies=i % 3,
                        files=[ReceiptFile(filename=f"giấy-tờ-{i:02d}-{side}.pdf", sha256=digest(f"{i}{side}"),
                                           size=250_000)
                               for side in ("trước", "sau")])
        for i in range(1, 31)
    ]
    pdf = render_receipt(receipt(documents=documents))

    pages = page_texts(pdf)
    assert len(pages) > 1
    text = " ".join(pages)
    positions = [text.index(f"{i} Giấy tờ thứ {i:02d}: bản sao chứng thực hợp đồng chuyển nhượng quyền sử dụng đất")
                 for i in range(1, 31)]
    assert positions == sorted(positions)  # every row, numbered, in order
    for i in range(1, 31):
        for side in ("trước", "sau"):
            assert f"giấy-tờ-{i:02d}-{side}.pdf" in text
            assert digest(f"{i}{side}") in text
    assert all("Tên giấy tờ" in page for page in pages if "Giấy tờ thứ" in page)  # heading repeated
    assert all(f"Trang {n}/{len(pages)}" in page for n, page in enumerate(pages, start=1))
    assert "NGƯỜI TIẾP NHẬN HỒ SƠ" in pages[-1]


def test_decomposed_vietnamese_from_a_mac_prints_with_its_marks_on_the_letters():
    nfd = "Bản sao giấy khai sinh (ảnh chụp từ điện thoại).heic"
    name = unicodedata.normalize("NFD", "Nguyễn Thị Hương")
    pdf = render_receipt(receipt(applicant_name=name, documents=[ReceiptDocument(name="Giấy khai sinh", files=[
        ReceiptFile(filename=unicodedata.normalize("NFD", nfd), sha256=digest("ảnh"), size=2_000_000)])]))

    [text] = page_texts(pdf)
    assert "Tiếp nhận hồ sơ của: Nguyễn Thị Hương" in text
    assert nfd in text


def test_times_must_carry_a_time_zone():
    with pytest.raises(pydantic.ValidationError):
        receipt(appointment_at=datetime(2026, 12, 15, 8, 0))
