"""The receipt through HTTP: printed for whoever presents the security code, refused alike for a
wrong code and an unknown dossier."""

from urllib.parse import quote

import pypdfium2 as pdfium

from kit.testing import as_user

from .conftest import SUBMISSION

# The gateway passes the officer's display name percent-encoded (header values are latin-1).
RECEPTION = {**as_user("reception1", "reception_officer", agency="000.00.21.H49"), "X-User-Name": quote("Trần Thị Bình")}
COUNTER = {**SUBMISSION, "documents": [{"code": "TK", "originals": 1}, {"code": "XNTTHN", "originals": 1}],
           "result_channel": "counter"}


def text_of(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


async def counter_dossier(client) -> dict:
    r = await client.post("/dossiers/counter", json=COUNTER, headers=RECEPTION)
    assert r.status_code == 201, r.text
    return r.json()


async def test_the_receipt_of_a_counter_dossier_shows_its_code_applicant_and_appointment(platform):
    dossier = await counter_dossier(platform)
    r = await platform.post(f"/dossiers/{dossier['code']}/receipt",
                            json={"security_code": dossier["security_code"].lower()})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    text = text_of(r.content)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert dossier["code"] in text and dossier["security_code"] in text
    assert "Nguyễn Văn An" in text and "Đăng ký kết hôn" in text
    assert "Nhận tại Bộ phận Một cửa" in text
    assert "Trần Thị Bình" in text  # the receiving officer signs under their name


async def test_a_wrong_code_and_an_unknown_dossier_get_the_same_answer(platform):
    dossier = await counter_dossier(platform)
    wrong = await platform.post(f"/dossiers/{dossier['code']}/receipt", json={"security_code": "ZZZZZZZZ"})
    unknown = await platform.post("/dossiers/000.00.21.H49-261123-9999/receipt",
                                  json={"security_code": dossier["security_code"]})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == {**unknown.json(), "instance": wrong.json()["instance"]}
    missing = await platform.post(f"/dossiers/{dossier['code']}/receipt", json={})
    assert missing.status_code == 422 and missing.headers["content-type"] == "application/problem+json"
