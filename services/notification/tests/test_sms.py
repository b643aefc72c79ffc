"""SMS: length rules, phone numbers, and the HTTP gateway adapter with failover against two real sandbox
gateways on loopback, which POST signed delivery reports to a real callback receiver."""

import contextlib

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request

from kit.testing import bound_socket, eventually, running_server
from notification.sms import (FailoverSender, HttpSmsGateway, InvalidPhoneNumber, SmsSandboxSettings, normalize_phone,
                              segments, unaccent)
from kit.breaker import CircuitBreaker
from notification.sms.sandbox import create_app as create_sandbox

PHONE = "0912345678"
TEXT = "Hồ sơ 000.00.21.H49-261123-0007 đã được tiếp nhận."


# --- text ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "encoding", "parts"), [
    ("", "GSM-7", 1),
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),  # 2 × 153
    ("a" * 307, "GSM-7", 3),
    ("€" * 80, "GSM-7", 1),  # extension characters take 2 septets: 160
    ("€" * 80 + "a", "GSM-7", 2),  # 161 septets: 76 € (152) | 4 € + a
    ("[" * 79 + "a" * 2, "GSM-7", 1),  # 158 + 2 = 160
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),  # 306 septets, but € is not split: 152 | € + 151 | 1
    ("é" * 160, "GSM-7", 1),  # é is in the GSM alphabet, ê is not
    ("ê" * 70, "UCS-2", 1),
    ("ă" * 70, "UCS-2", 1),
    ("ă" * 71, "UCS-2", 2),
    ("ă" * 134, "UCS-2", 2),  # 2 × 67
    ("ă" * 135, "UCS-2", 3),
    ("a" * 159 + "đ", "UCS-2", 3),  # one accented letter makes all 160 characters UCS-2: 67 | 67 | 26
    ("😀" * 35, "UCS-2", 1),  # surrogate pairs: 70 code units
    ("😀" * 36, "UCS-2", 2),  # 72 units: 33 pairs (66) | 3 pairs, a pair is not split
    (TEXT, "UCS-2", 1),  # 50 characters
])
def test_segments(text, encoding, parts):
    assert segments(text) == (encoding, parts)


@pytest.mark.parametrize(("text", "plain"), [
    ("Hồ sơ đã được tiếp nhận", "Ho so da duoc tiep nhan"),
    ("ĐẶNG THỊ Ữ, Nguyễn Văn Ân", "DANG THI U, Nguyen Van An"),
    ("Phí: 50.000đ — “trả kết quả”…", 'Phi: 50.000d - "tra ket qua"...'),
])
def test_unaccent(text, plain):
    assert unaccent(text) == plain
    assert segments(unaccent(text)).encoding == "GSM-7"


def test_unaccent_fits_a_long_vietnamese_text_in_fewer_parts():
    text = "Hồ sơ của ông/bà đã được tiếp nhận, hẹn trả kết quả ngày 24/11/2026 tại bộ phận một cửa." * 2
    assert segments(text) == ("UCS-2", 3)  # 180 characters
    assert segments(unaccent(text)) == ("GSM-7", 2)


# --- phone numbers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["0912345678", "0912 345 678", "+84 912-345-678", "84912345678", "0084912345678",
                                 "(+84) 912.345.678"])
def test_phone_numbers_are_normalised_to_e164(raw):
    assert normalize_phone(raw) == "+84912345678"


@pytest.mark.parametrize("raw", ["", "abc", "091234567", "09123456789", "0212345678", "0612345678",
                                 "+14155550123", "+8491234567x"])
def test_invalid_phone_numbers_are_refused_without_echoing_them(raw):
    with pytest.raises(InvalidPhoneNumber, match="not a Vietnamese mobile number") as error:
        normalize_phone(raw)
    if len(raw) > 6:
        assert raw not in str(error.value)


# --- circuit breaker ------------------------------------------------------------------------------------

def test_circuit_breaker_opens_cools_down_and_closes():
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown=10, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.allows()
    breaker.record_failure()
    assert not breaker.allows()
    now[0] = 10.0
    assert breaker.allows()  # half-open: one trial
    breaker.record_failure()
    assert not breaker.allows()  # the trial failed: open for another cool-down
    now[0] = 20.0
    breaker.record_success()
    assert breaker.allows() and breaker.failures == 0


# --- gateways on loopback ---------------------------------------------------------------------------------

class Gateways:
    def __init__(self):
        self.reports: list[tuple[bytes, str | None]] = []
        self.urls: dict[str, str] = {}
        self.client = None

    async def messages(self, name: str) -> list[dict]:
        return (await self.client.get(f"{self.urls[name]}/_sandbox/messages")).json()

    async def fail(self, name: str, count: int, status: int = 503) -> None:
        (await self.client.post(f"{self.urls[name]}/_sandbox/fail", params={"count": count, "status": status})
         ).raise_for_status()


def callback_receiver(gateways: Gateways) -> FastAPI:
    app = FastAPI()

    @app.post("/sms/callback")
    async def receive(request: Request):
        gateways.reports.append((await request.body(), request.headers.get("X-Signature")))
        return {"ok": True}

    return app


# The servers start once for the module (each start and stop costs ~0.5 s); tests reset their state.
on_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers():
    found = Gateways()
    async with contextlib.AsyncExitStack() as stack:
        receiver = await stack.enter_async_context(running_server(callback_receiver(found)))
        for name in ("primary", "secondary"):
            settings = SmsSandboxSettings(api_key=f"key-{name}", callback_secret=f"secret-{name}",
                                          callback_url=f"{receiver}/sms/callback")
            found.urls[name] = await stack.enter_async_context(running_server(create_sandbox(settings)))
        found.client = await stack.enter_async_context(httpx.AsyncClient())
        yield found


@pytest_asyncio.fixture(loop_scope="module")
async def gateways(servers):
    for url in servers.urls.values():
        (await servers.client.post(f"{url}/_sandbox/reset")).raise_for_status()
    servers.reports.clear()
    return servers


def gateway(gateways: Gateways, name: str, **overrides) -> HttpSmsGateway:
    options = {"name": name, "base_url": gateways.urls.get(name), "api_key": f"key-{name}",
               "callback_secret": f"secret-{name}", "connect_timeout": 0.5, "timeout": 2.0} | overrides
    return HttpSmsGateway(**options)


@pytest_asyncio.fixture(loop_scope="module")
async def sender(gateways):
    sender = FailoverSender([gateway(gateways, "primary"), gateway(gateways, "secondary")],
                            attempts=4, backoff=0.01, max_backoff=0.05, breaker_failures=5, breaker_cooldown=60)
    yield sender
    await sender.aclose()


@on_module_loop
async def test_a_message_goes_through_the_primary(gateways, sender):
    sent = await sender.send(PHONE, TEXT, "msg-1")
    assert (sent.provider, sent.result.accepted, sent.attempts) == ("primary", True, 1)
    [message] = await gateways.messages("primary")
    assert (message["to"], message["text"], message["client_ref"], message["id"]) == (
        "+84912345678", TEXT, "msg-1", sent.result.provider_id)
    assert (message["encoding"], message["parts"]) == ("UCS-2", 1)
    assert await gateways.messages("secondary") == []


@on_module_loop
async def test_a_primary_that_recovers_is_retried_and_sends_once(gateways, sender):
    await gateways.fail("primary", 3)
    sent = await sender.send(PHONE, TEXT, "msg-2")
    assert (sent.provider, sent.attempts) == ("primary", 4)
    assert [m["client_ref"] for m in await gateways.messages("primary")] == ["msg-2"]
    assert await gateways.messages("secondary") == []


@on_module_loop
async def test_a_failing_primary_fails_over_to_the_secondary_exactly_once(gateways, sender):
    await gateways.fail("primary", 1000, status=429)
    sent = await sender.send(PHONE, TEXT, "msg-3")
    assert (sent.provider, sent.attempts) == ("secondary", 5)  # 4 tries on the primary, then the secondary
    assert await gateways.messages("primary") == []
    assert [m["client_ref"] for m in await gateways.messages("secondary")] == ["msg-3"]

    # The 5th consecutive failure opens the primary's circuit, after which it is not even tried.
    assert (await sender.send(PHONE, TEXT, "msg-4")).attempts == 2
    assert not sender.breakers["primary"].allows()
    sent = await sender.send(PHONE, TEXT, "msg-5")
    assert (sent.provider, sent.attempts) == ("secondary", 1)
    assert [m["client_ref"] for m in await gateways.messages("secondary")] == ["msg-3", "msg-4", "msg-5"]
    assert await gateways.messages("primary") == []


@on_module_loop
async def test_an_unreachable_primary_fails_over(gateways):
    with bound_socket() as closed:  # bound, not listening: connection refused
        down = gateway(gateways, "primary", base_url=f"http://127.0.0.1:{closed.getsockname()[1]}")
        sender = FailoverSender([down, gateway(gateways, "secondary")], attempts=2, backoff=0.01)
        try:
            sent = await sender.send(PHONE, TEXT, "msg-6")
        finally:
            await sender.aclose()
    assert (sent.provider, sent.attempts) == ("secondary", 3)
    assert len(await gateways.messages("secondary")) == 1


@on_module_loop
async def test_a_refused_message_is_not_retried_nor_failed_over(gateways, sender):
    await gateways.fail("primary", 1, status=400)
    sent = await sender.send(PHONE, TEXT, "msg-7")
    assert (sent.provider, sent.attempts, sent.result.temporary) == (None, 1, False)
    assert "HTTP 400" in sent.result.error
    assert await gateways.messages("secondary") == []


@on_module_loop
async def test_a_wrong_api_key_is_the_providers_trouble(gateways):
    wrong = gateway(gateways, "primary", api_key="not-the-key")
    try:
        result = await wrong.send(PHONE, TEXT, "msg-8")
    finally:
        await wrong.aclose()
    assert (result.accepted, result.temporary, result.error) == (False, True, "HTTP 401: invalid_api_key")


@on_module_loop
async def test_a_text_over_the_part_limit_is_refused_before_sending(gateways):
    short = gateway(gateways, "primary", max_parts=2)
    try:
        result = await short.send(PHONE, "ă" * 135, "msg-9")
    finally:
        await short.aclose()
    assert (result.accepted, result.temporary) == (False, False)
    assert "UCS-2, 3 parts" in result.error
    assert await gateways.messages("primary") == []


@on_module_loop
async def test_the_same_client_ref_is_taken_once(gateways):
    primary = gateway(gateways, "primary")
    try:
        first = await primary.send(PHONE, TEXT, "msg-10")
        again = await primary.send(PHONE, TEXT, "msg-10")
    finally:
        await primary.aclose()
    assert first.provider_id == again.provider_id
    assert len(await gateways.messages("primary")) == 1


@on_module_loop
async def test_invalid_phone_is_refused_before_any_provider(gateways, sender):
    with pytest.raises(InvalidPhoneNumber):
        await sender.send("0212345678", TEXT, "msg-11")
    assert await gateways.messages("primary") == [] and await gateways.messages("secondary") == []


@on_module_loop
async def test_delivery_reports_are_verified_and_tampered_ones_refused(gateways, sender):
    sent = await sender.send(PHONE, TEXT, "msg-12")
    [(body, signature)] = await eventually(lambda: [r for r in gateways.reports if b'"msg-12"' in r[0]], timeout=5)
    primary, secondary = sender.providers

    report = primary.verify_callback(body, signature)
    assert report is not None
    assert (report.message_id, report.provider_id, report.status) == ("msg-12", sent.result.provider_id, "delivered")
    assert primary.verify_callback(body, f"sha256={signature.upper()}") == report

    tampered = body.replace(b'"delivered"', b'"failed"')
    assert tampered != body
    assert primary.verify_callback(tampered, signature) is None
    assert primary.verify_callback(body, None) is None
    assert primary.verify_callback(body, "") is None
    assert primary.verify_callback(body, "ünïcode") is None
    assert secondary.verify_callback(body, signature) is None  # another provider's secret
