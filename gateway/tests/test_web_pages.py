"""The web pages over HTTP: the gateway (ASGI) in front of the real catalogue and dossier services on
loopback ports. Language, cookies, CSRF, sign-in, filing with files, the officer's actions, and the
API's problems shown as readable sentences (never a stack trace). The same pages in a real browser:
tests/browser."""

import re

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from kit.testing import serving

from .conftest import catalog_and_dossier

pytestmark = pytest.mark.asyncio(loop_scope="module")

TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
APPLICANT = {"name": "Nguyễn Thị Mai", "id_number": "022190004321", "phone": "0912000111",
             "email": "mai@example.vn", "address": "Phường Hồng Gai, Hạ Long, Quảng Ninh", "result_channel": "online"}
TRACEBACK = re.compile(r"Traceback|File \"/|Exception|Internal Server Error")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory, down):
    """The gateway with the seeded catalogue and the dossier service; every other upstream is down."""
    async with catalog_and_dossier(tmp_path_factory.mktemp("web"), down) as (settings, _):
        yield create_app(settings)


@pytest_asyncio.fixture(loop_scope="module")
async def browser(site):
    """A fresh cookie jar per test, like a new browser profile."""
    async with serving(site) as client:
        yield client


async def csrf(client) -> str:
    if "motcua_csrf" not in client.cookies:
        assert (await client.get("/")).status_code == 200
    return client.cookies["motcua_csrf"]


async def sign_in(client, username: str) -> httpx.Response:
    return await client.post("/dang-nhap", data={"username": username, "csrf": await csrf(client), "next": ""})


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def readable(response: httpx.Response) -> str:
    """The page's error box as text, checked to be no stack trace."""
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert not TRACEBACK.search(response.text), response.text[-1500:]
    box = re.search(r'<div class="alert error" role="alert">(.*?)</div>', response.text, re.S)
    assert box, response.text[-1500:]
    return re.sub(r"<[^>]+>", " ", box.group(1))


async def file_dossier(client, **overrides) -> httpx.Response:
    form = {**APPLICANT, **overrides, "csrf": await csrf(client)}
    files = [("doc_TK", ("to-khai.pdf", TINY_PDF, "application/pdf")),
             ("doc_XNTTHN", ("xac-nhan.pdf", TINY_PDF, "application/pdf"))]
    return await client.post("/nop-ho-so/1.000894", data=form, files=files)


# --- citizen pages, Vietnamese first ------------------------------------------------------------------

async def test_the_home_page_is_vietnamese_with_an_english_switch_kept_in_a_cookie(browser):
    home = await browser.get("/")
    assert home.status_code == 200 and '<html lang="vi">' in home.text
    assert "Chào mừng" in home.text and 'href="/?lang=en"' in home.text
    english = await browser.get("/?lang=en")
    assert '<html lang="en">' in english.text and "Welcome" in english.text
    cookie = set_cookies(english)["motcua_lang"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert '<html lang="en">' in (await browser.get("/thu-tuc")).text  # remembered
    assert '<html lang="vi">' in (await browser.get("/trung-tam?lang=vi")).text


async def test_pages_use_only_local_assets_and_forbid_framing(browser):
    page = await browser.get("/")
    assert not re.search(r'(src|href)="(https?:)?//', page.text), "an external asset or CDN"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert (await browser.get(asset)).status_code == 200, asset
    assert (await browser.get("/static/..%2Fpages.py")).status_code == 404


async def test_a_citizen_searches_and_reads_a_procedure(browser):
    results = await browser.get("/thu-tuc", params={"q": "dang ky ket hon"})
    assert results.status_code == 200 and 'href="/thu-tuc/1.000894"' in results.text
    page = await browser.get("/thu-tuc/1.000894")
    assert page.status_code == 200
    for expected in ("<h1>Đăng ký kết hôn</h1>", "Tờ khai đăng ký kết hôn", "Thời hạn giải quyết",
                     "1 ngày làm việc", "Không mất phí", "/api/v1/forms/TK-KH/file", 'href="/nop-ho-so/1.000894"',
                     "Nơi nộp hồ sơ", "Luật Hộ tịch"):
        assert expected in page.text, expected
    with_fee = await browser.get("/thu-tuc/1.001022")
    assert "15.000 ₫" in with_fee.text
    missing = await browser.get("/thu-tuc/9.999999?lang=en")
    assert missing.status_code == 404 and "Procedure 9.999999 was not found." in readable(missing)


async def test_the_service_centres_are_listed_with_their_phones(browser):
    page = await browser.get("/trung-tam")
    assert page.status_code == 200
    assert page.text.count('class="card"') == 15
    assert "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh" in page.text and 'href="tel:0333634669"' in page.text


async def test_a_lookup_with_the_lookup_service_down_says_so_in_words(browser):
    page = await browser.get("/tra-cuu", params={"ma": "000.00.21.H49-260101-0001", "security_code": "ABCD1234"})
    assert page.status_code == 503
    assert "Hệ thống tạm thời gián đoạn" in readable(page)
    assert 'value="000.00.21.H49-260101-0001"' in page.text  # what was typed stays
    empty = await browser.get("/tra-cuu")
    assert empty.status_code == 200 and 'name="security_code"' in empty.text


# --- sign-in, cookies, CSRF ---------------------------------------------------------------------------

async def test_the_sign_in_page_lists_demo_users_of_every_role_and_one_click_signs_in(browser):
    page = await browser.get("/dang-nhap")
    for username in ("citizen1", "reception1", "specialist1", "leader1", "admin1"):
        assert f'value="{username}"' in page.text
    answer = await sign_in(browser, "reception1")
    assert answer.status_code == 303 and answer.headers["location"] == "/can-bo"
    cookie = set_cookies(answer)["motcua_token"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    queue = await browser.get("/can-bo")
    assert queue.status_code == 200 and "Trần Thị Bình" in queue.text
    out = await browser.post("/dang-xuat", data={"csrf": await csrf(browser)})
    assert out.status_code == 303 and 'motcua_token=""' in set_cookies(out)["motcua_token"]
    assert (await browser.get("/can-bo")).status_code == 303


async def test_a_form_without_its_csrf_token_changes_nothing(browser):
    await csrf(browser)
    forged = await browser.post("/dang-nhap", data={"username": "admin1", "csrf": "forged"})
    assert forged.status_code == 403 and "motcua_token" not in set_cookies(forged)
    assert "Phiên làm việc đã hết hạn" in readable(forged)


async def test_sign_in_goes_back_only_to_a_page_of_this_site(browser):
    token = await csrf(browser)
    back = await browser.post("/dang-nhap", data={"username": "citizen1", "csrf": token, "next": "/nop-ho-so/1.000894"})
    assert back.headers["location"] == "/nop-ho-so/1.000894"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        away = await browser.post("/dang-nhap", data={"username": "citizen1", "csrf": token, "next": evil})
        assert away.headers["location"] == "/", evil


# --- filing online --------------------------------------------------------------------------------------

async def test_filing_needs_a_signed_in_person(browser):
    answer = await browser.get("/nop-ho-so/1.000894")
    assert answer.status_code == 303 and answer.headers["location"] == "/dang-nhap?next=%2Fnop-ho-so%2F1.000894"


async def test_a_citizen_files_online_and_gets_the_receipt_with_the_codes(browser):
    await sign_in(browser, "citizen1")
    form = await browser.get("/nop-ho-so/1.000894")
    assert 'for="doc_TK"' in form.text and 'enctype="multipart/form-data"' in form.text
    receipt = await file_dossier(browser)
    assert receipt.status_code == 201, readable(receipt)
    code = re.search(r'id="dossier-code">([^<]+)<', receipt.text).group(1)
    security_code = re.search(r'id="security-code">([^<]+)<', receipt.text).group(1)
    assert re.fullmatch(r"000\.00\.21\.H49-\d{6}-\d{4}", code) and len(security_code) >= 6
    assert f"/tra-cuu?ma={code}&amp;security_code={security_code}" in receipt.text
    pdf = await browser.post("/bien-nhan", data={"ma": code, "security_code": security_code,
                                                 "csrf": await csrf(browser)})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    wrong = await browser.post("/bien-nhan", data={"ma": code, "security_code": "WRONG123",
                                                   "csrf": await csrf(browser)})
    assert wrong.status_code == 404 and "Không tìm thấy hồ sơ" in readable(wrong)


async def test_an_invalid_filing_is_explained_and_keeps_what_was_typed(browser):
    await sign_in(browser, "citizen1")
    answer = await file_dossier(browser, id_number="12345")
    assert answer.status_code == 422
    message = readable(answer)
    assert "Thông tin chưa hợp lệ" in message and "Số căn cước công dân" in message
    assert 'value="12345"' in answer.text and 'value="Nguyễn Thị Mai"' in answer.text
    assert "Xin chọn lại các tệp đính kèm" in message


# --- officers -------------------------------------------------------------------------------------------

async def test_reception_receives_a_dossier_from_the_intake_queue(site):
    async with serving(site) as citizen:
        await sign_in(citizen, "citizen1")
        receipt = await file_dossier(citizen)
        code = re.search(r'id="dossier-code">([^<]+)<', receipt.text).group(1)
    async with serving(site) as officer:
        await sign_in(officer, "reception1")
        queue = await officer.get("/can-bo?hang=intake")
        assert f'href="/can-bo/ho-so/{code}"' in queue.text
        page = await officer.get(f"/can-bo/ho-so/{code}")
        assert 'data-action="receive"' in page.text and 'data-action="approve"' not in page.text
        token = await csrf(officer)
        no_reason = await officer.post(f"/can-bo/ho-so/{code}/refuse_intake", data={"csrf": token, "reason": "x"})
        assert no_reason.status_code == 422 and "Lý do" in readable(no_reason)
        assert 'data-state="submitted"' in no_reason.text
        done = await officer.post(f"/can-bo/ho-so/{code}/receive", data={"csrf": token})
        assert done.status_code == 303 and done.headers["location"] == f"/can-bo/ho-so/{code}?done=receive"
        page = await officer.get(done.headers["location"])
        assert 'data-state="received"' in page.text and "Đã thực hiện: Tiếp nhận." in page.text
        assert 'data-action="transfer"' in page.text
    async with serving(site) as leader:
        await sign_in(leader, "leader1")
        too_early = await leader.post(f"/can-bo/ho-so/{code}/approve", data={"csrf": await csrf(leader)})
        assert too_early.status_code == 409
        assert "không thể thực hiện thao tác này" in readable(too_early)


async def test_a_citizen_is_not_shown_the_officers_pages(browser):
    await sign_in(browser, "citizen1")
    page = await browser.get("/can-bo")
    assert page.status_code == 403 and "dành cho cán bộ" in readable(page)


# --- feedback -------------------------------------------------------------------------------------------

async def test_a_petition_that_cannot_be_sent_is_explained_and_keeps_what_was_typed(browser):
    """The feedback service is down here: the page says so in words and the form keeps the text."""
    form = {"category": "conduct", "title": "Cán bộ hướng dẫn chưa rõ", "name": "Trần Văn Hùng",
            "content": "Phải đi lại hai lần vì thiếu giấy.", "phone": "0912000222", "csrf": await csrf(browser)}
    answer = await browser.post("/phan-anh-kien-nghi", data=form)
    assert answer.status_code == 502 and "Hệ thống tạm thời gián đoạn" in readable(answer)
    assert 'value="Cán bộ hướng dẫn chưa rõ"' in answer.text
    assert "Phải đi lại hai lần vì thiếu giấy.</textarea>" in answer.text
    assert 'value="conduct" checked' in answer.text


async def test_a_rating_link_that_cannot_be_opened_is_a_readable_page(browser):
    page = await browser.get("/danh-gia", params={"t": "not-a-token", "lang": "en"})
    assert page.status_code == 503 and "briefly unavailable" in readable(page)  # the feedback service is down
    page = await browser.get("/hoi-dap?lang=vi")
    assert page.status_code == 503 and "Hệ thống tạm thời gián đoạn" in readable(page)


# --- fees -----------------------------------------------------------------------------------------------

async def test_paying_needs_a_signed_in_person_and_a_down_payment_service_is_explained(browser):
    answer = await browser.get("/thanh-toan", params={"khoan": "000.00.21.H49-260101-0001/1"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/dang-nhap?next=%2Fthanh-toan")
    await sign_in(browser, "citizen1")
    form = await browser.get("/thanh-toan", params={"khoan": "000.00.21.H49-260101-0001/1"})
    assert form.status_code == 200 and 'value="000.00.21.H49-260101-0001"' in form.text  # the code from the item
    down = await browser.get("/thanh-toan", params={"ma": "000.00.21.H49-260101-0001", "security_code": "ABCD1234"})
    assert down.status_code == 503 and "Hệ thống tạm thời gián đoạn" in readable(down)
    pay = await browser.post("/thanh-toan", data={"item_id": "000.00.21.H49-260101-0001/1", "security_code": "ABCD1234",
                                                  "csrf": await csrf(browser), "idempotency_key": "bad key!"})
    assert pay.status_code == 503 and 'value="ABCD1234"' in pay.text
