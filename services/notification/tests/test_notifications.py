"""The notification service as a citizen and an officer meet it: events become messages by the operator's
rules and templates, delivered to a real SMTP server and two real SMS gateway sandboxes (whose signed
delivery reports come back over HTTP), once per event and channel, retried, then handed to the next channel."""

import contextlib
import logging
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from contracts import build
from contracts.dossier import ApplicantContact, DossierOverdue, DossierReceived
from contracts.payment import PaymentSucceeded
from kit.bus.memory import MemoryBus
from kit.testing import as_user, bound_socket, eventually, running_server
from notification.app import create_app
from notification.email import SmtpSettings
from notification.settings import NotificationSettings
from notification.sms import SmsSandboxSettings, SmsSettings
from notification.sms.sandbox import create_app as create_sandbox

from .smtp_server import smtp_server

ADMIN = as_user("admin1", "admin")
CITIZEN = as_user("citizen1", "citizen")
CODE = "000.00.21.H49-261123-0007"
PHONE, EMAIL = "0912345678", "an.nguyen@example.vn"


def received(code=CODE, *, due=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), account="citizen1", email=EMAIL):
    data = DossierReceived(code=code, sequence=2, state="received", status_code=2, procedure_code="1.000894",
                           procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49", channel="online",
                           occurred_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC), due_at=due,
                           security_code_hash="0" * 64, received_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
                           applicant=ApplicantContact(name="Nguyễn Văn An", phone=PHONE, email=email, account=account),
                           received_by="reception1", result_channel="online")
    return build(data, source="/dossier", subject=code)


def paid(code=CODE):
    data = PaymentSucceeded(payment_id="261123ABCDEF012345", dossier_code=code, item_id=f"{code}/fees-1",
                            amount=75_000, method="vnpay", occurred_at=datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
                            provider_transaction="14123456", paid_at=datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    return build(data, source="/payment", subject=code)


class Platform:
    """The service on real loopback TCP, with its SMTP relay and two SMS gateways."""

    def __init__(self, client, bus, smtp, sms_urls):
        self.client, self.bus, self.smtp, self.sms_urls = client, bus, smtp, sms_urls

    async def publish(self, event, topic="dossier.events"):
        await self.bus.publish(topic, event, key=event.subject)

    async def messages(self, code=CODE):
        r = await self.client.get("/messages", params={"dossier_code": code}, headers=ADMIN)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    async def on(self, channel, code=CODE):
        return [m for m in await self.messages(code) if m["channel"] == channel]

    async def sms_taken(self, name):
        return (await self.client.get(f"{self.sms_urls[name]}/_sandbox/messages")).json()

    async def sms_fail(self, name, count, status=503):
        await self.client.post(f"{self.sms_urls[name]}/_sandbox/fail", params={"count": count, "status": status})


@pytest.fixture
async def platform(store):
    bus = MemoryBus()
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with contextlib.AsyncExitStack() as stack:
        smtp = await stack.enter_async_context(smtp_server())
        sms_urls = {}
        for name in ("primary", "secondary"):
            sandbox = create_sandbox(SmsSandboxSettings(
                api_key=f"key-{name}", callback_secret=f"secret-{name}",
                callback_url=f"{base}/notifications/sms/sandbox-{name}/reports"))
            sms_urls[name] = await stack.enter_async_context(running_server(sandbox))
        sms = SmsSettings(**{f"{role}_{field}": value for role in ("primary", "secondary") for field, value in (
            ("name", f"sandbox-{role}"), ("url", sms_urls[role]), ("api_key", SecretStr(f"key-{role}")),
            ("callback_secret", SecretStr(f"secret-{role}")))}, attempts=2, backoff_seconds=0.01,
            breaker_failures=100)
        settings = NotificationSettings(delivery_backoff_seconds=0.05, delivery_poll_seconds=0.05,
                                        delivery_attempts=3, lookup_link_template="https://dichvucong.example/tra-cuu?ma={code}")
        app = create_app(settings, bus=bus, store=store, sms=sms,
                         smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, security="none", timeout_seconds=2))
        url = await stack.enter_async_context(running_server(app, sock))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=10))
        yield Platform(client, bus, smtp, sms_urls)
    await bus.stop()


async def test_a_received_dossier_is_told_by_email_sms_and_in_app_with_its_appointment(platform):
    await platform.publish(received())
    [mail] = await eventually(lambda: platform.smtp.messages)
    assert mail.rcpt_tos == [EMAIL]
    text = mail.message.get_body(("plain",)).get_content()
    assert CODE in text and "17:00 ngày 24/11/2026" in text  # 10:00 UTC is 17:00 in Hạ Long
    assert CODE in mail.message["Subject"]
    [sms] = await eventually(lambda: platform.sms_taken("primary"))
    assert sms["to"] == "+84912345678" and "24/11/2026" in sms["text"]
    # The gateway's signed delivery report settles the SMS; the in-app message was delivered on record.
    await eventually(lambda: _statuses(platform, {"email": "sent", "sms": "delivered", "in_app": "delivered"}))
    [sms_message] = await platform.on("sms")
    assert sms_message["provider"] == "sandbox-primary" and sms_message["template"] == "dossier.received@1"


async def _statuses(platform, expected):
    return {m["channel"]: m["status"] for m in await platform.messages()} == expected


async def test_the_same_event_delivered_three_times_sends_one_message_per_channel(platform):
    event = received()
    for _ in range(3):
        await platform.publish(event)
    await eventually(lambda: _statuses(platform, {"email": "sent", "sms": "delivered", "in_app": "delivered"}))
    consumed = platform.bus.broker.committed
    await eventually(lambda: sum(v for (g, t, _), v in consumed.items() if g == "notification") == 3)
    assert len(platform.smtp.messages) == 1 and len(await platform.sms_taken("primary")) == 1
    assert len(await platform.messages()) == 3


async def test_a_relay_refusing_for_a_while_is_retried_with_backoff(platform):
    platform.smtp.fail_next("451 4.3.0 try later", times=2)
    await platform.publish(received())
    [email] = await eventually(lambda: _sent(platform, "email"))
    assert [a["outcome"] for a in email["attempts"]] == ["temporary", "temporary", "sent"]
    assert "451" in email["attempts"][0]["detail"]
    assert len(platform.smtp.messages) == 1


async def _sent(platform, channel):
    return [m for m in await platform.on(channel) if m["status"] in ("sent", "delivered")]


async def test_the_primary_sms_gateway_failing_sends_through_the_secondary_once(platform):
    await platform.sms_fail("primary", 100)
    await platform.publish(received())
    [sms] = await eventually(lambda: _delivered_sms(platform))
    assert sms["provider"] == "sandbox-secondary"
    [attempt] = sms["attempts"]
    assert attempt["tries"] == 3  # two on the primary, then the secondary took it
    assert await platform.sms_taken("primary") == [] and len(await platform.sms_taken("secondary")) == 1


async def _delivered_sms(platform):
    return [m for m in await platform.on("sms") if m["status"] == "delivered"]


async def test_email_refused_for_good_falls_back_to_sms_when_the_rule_has_no_sms(platform):
    rule = (await platform.client.get("/notifications/rules/vn.motcua.dossier.received.v1", headers=ADMIN)).json()
    changed = await platform.client.put(
        "/notifications/rules/vn.motcua.dossier.received.v1", headers=ADMIN,
        json={"template": rule["template"], "channels": ["in_app", "email"], "audience": "applicant"})
    assert changed.status_code == 200, changed.text
    platform.smtp.fail_next("550 5.1.1 no such user", times=1)
    await eventually(lambda: _rule_channels(platform, ["in_app", "email"]), timeout=10)
    await platform.publish(received())
    [sms] = await eventually(lambda: _delivered_sms(platform), timeout=15)
    [email] = await platform.on("email")
    assert email["status"] == "failed" and email["failure"] == "permanent" and "550" in email["error"]
    assert sms["fallback_of"] == email["id"]
    assert platform.smtp.messages == []


async def _rule_channels(platform, channels):
    # The library caches rules for a few seconds; the service reads what the operator saved.
    r = await platform.client.get("/notifications/rules/vn.motcua.dossier.received.v1", headers=ADMIN)
    return r.json()["channels"] == channels


async def test_a_citizen_s_preferences_choose_language_and_channels(platform):
    r = await platform.client.patch("/notifications/preferences/me", headers=CITIZEN,
                                    json={"language": "en", "sms": False})
    assert r.status_code == 200 and r.json() == {"in_app": True, "email": True, "sms": False, "language": "en"}
    await platform.publish(received())
    [mail] = await eventually(lambda: platform.smtp.messages)
    text = mail.message.get_body(("plain",)).get_content()
    assert "17:00 on 24/11/2026" in text
    assert sorted(m["channel"] for m in await platform.messages()) == ["email", "in_app"]
    inbox = (await platform.client.get("/messages/mine", headers=CITIZEN)).json()["items"]
    assert [m["dossier_code"] for m in inbox] == [CODE] and "24/11/2026" in inbox[0]["body"]
    other = (await platform.client.get("/messages/mine", headers=as_user("citizen2", "citizen"))).json()
    assert other["items"] == []


async def test_bad_preferences_are_refused(platform):
    for body in ({"language": "fr"}, {"sms": "sometimes"}, {"whatsapp": True}):
        r = await platform.client.patch("/notifications/preferences/me", headers=CITIZEN, json=body)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), body
    r = await platform.client.get("/notifications/preferences/me", headers=CITIZEN)
    assert r.json()["language"] == "vi"


async def test_a_missing_value_fails_loudly_and_sends_nothing(platform, caplog):
    with caplog.at_level(logging.ERROR, logger="notification"):
        await platform.publish(received(due=None))
        messages = await eventually(lambda: _count(platform, 3))
    assert {m["status"] for m in messages} == {"failed"}
    assert all("due_date" in m["error"] and m["body"] == "" for m in messages)
    assert any("due_date" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert platform.smtp.messages == [] and await platform.sms_taken("primary") == []


async def _count(platform, n):
    items = await platform.messages()
    return items if len(items) == n else None


async def test_a_payment_is_told_to_the_dossier_s_applicant(platform):
    await platform.publish(received())
    await eventually(lambda: platform.smtp.messages)
    await platform.publish(paid(), topic="payment.events")
    mails = await eventually(lambda: platform.smtp.messages if len(platform.smtp.messages) == 2 else None)
    text = mails[1].message.get_body(("plain",)).get_content()
    assert CODE in text and "75.000" in text and mails[1].rcpt_tos == [EMAIL]


async def test_delivery_reports_must_be_signed_by_a_known_provider(platform):
    body = b'{"provider_id": "x", "client_ref": "msg-1", "status": "delivered"}'
    r = await platform.client.post("/notifications/sms/sandbox-primary/reports", content=body,
                                   headers={"X-Signature": "0" * 64})
    assert r.status_code == 401 and r.json()["type"].endswith("bad-signature")
    r = await platform.client.post("/notifications/sms/nobody/reports", content=body, headers={"X-Signature": "0"})
    assert r.status_code == 404


async def test_an_undeliverable_sms_is_recorded_failed(platform):
    await platform.client.post(f"{platform.sms_urls['primary']}/_sandbox/undeliverable", params={"count": 1})
    await platform.publish(received(email=None))
    [sms] = await eventually(lambda: _final_sms(platform))
    assert sms["status"] == "failed" and sms["failure"] == "permanent"


async def _final_sms(platform):
    return [m for m in await platform.on("sms") if m["status"] == "failed"]


async def test_messages_are_for_officers_and_personal_data_stays_out_of_logs(platform, caplog):
    with caplog.at_level(logging.INFO):  # the platform's level (a library's DEBUG output is for its developers)
        await platform.publish(received())
        await eventually(lambda: _statuses(platform, {"email": "sent", "sms": "delivered", "in_app": "delivered"}))
    # Ours, not the test SMTP server's (aiosmtpd's "mail.log" stands for the relay's side, which sees addresses).
    logged = "\n".join(r.getMessage() + " " + str(r.__dict__) for r in caplog.records if r.name != "mail.log")
    for secret in (PHONE, "+84912345678", "912345678", EMAIL):
        assert secret not in logged
    r = await platform.client.get("/messages", params={"dossier_code": CODE}, headers=CITIZEN)
    assert r.status_code == 403


async def test_an_operator_sends_a_template_to_a_test_address(platform):
    r = await platform.client.post("/notifications/test-messages", headers=ADMIN,
                                   json={"template": "dossier.received", "channel": "email", "to": EMAIL})
    assert r.status_code == 200 and r.json()["outcome"] == "sent", r.text
    [mail] = platform.smtp.messages
    assert mail.rcpt_tos == [EMAIL] and "Hẹn trả kết quả" in mail.message.get_body(("plain",)).get_content()
    r = await platform.client.post("/notifications/test-messages", headers=ADMIN,
                                   json={"template": "dossier.received", "channel": "sms", "to": "0912 345 678"})
    assert r.status_code == 200 and r.json()["provider"] == "sandbox-primary", r.text


@pytest.mark.parametrize(("body", "status", "kind"), [
    ({"template": "dossier.received", "channel": "sms", "to": "12345"}, 422, "invalid-recipient"),
    ({"template": "dossier.received", "channel": "sms", "to": "0212345678"}, 422, "invalid-recipient"),  # landline
    ({"template": "dossier.received", "channel": "email", "to": "not-an-address"}, 422, "invalid-recipient"),
    ({"template": "dossier.received", "channel": "email", "to": "a@b"}, 422, "invalid-recipient"),
    ({"template": "dossier.received", "channel": "fax", "to": EMAIL}, 422, "validation-error"),
    ({"template": "no.such.template", "channel": "email", "to": EMAIL}, 404, "not-found"),
    ({"template": "dossier.received", "channel": "email", "to": EMAIL, "cc": EMAIL}, 422, "validation-error"),
])
async def test_a_test_message_to_a_bad_recipient_is_refused_and_nothing_is_sent(platform, body, status, kind):
    r = await platform.client.post("/notifications/test-messages", headers=ADMIN, json=body)
    assert r.status_code == status and r.json()["type"].endswith(kind), r.text
    assert body["to"] not in r.json()["detail"] or body["to"] == EMAIL
    assert platform.smtp.messages == [] and await platform.sms_taken("primary") == []


async def test_only_an_administrator_sends_test_messages(platform):
    r = await platform.client.post("/notifications/test-messages", headers=CITIZEN,
                                   json={"template": "dossier.received", "channel": "email", "to": EMAIL})
    assert r.status_code == 403 and platform.smtp.messages == []


async def test_an_overdue_dossier_lands_in_its_agency_s_inbox_only(platform):
    data = DossierOverdue(code=CODE, sequence=5, state="in_progress", status_code=4, procedure_code="1.000894",
                          procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49", current_agency="000.00.03.H49",
                          channel="online", occurred_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
                          received_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
                          due_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), due_on="2026-11-24",
                          applicant=ApplicantContact(name="Nguyễn Văn An", phone=PHONE, email=EMAIL))
    await platform.publish(build(data, source="/dossier", subject=CODE))
    leader = as_user("leader2", "leader", agency="000.00.03.H49")
    items = await eventually(lambda: _inbox(platform, leader))
    assert [m["dossier_code"] for m in items] == [CODE] and "quá hạn" in items[0]["subject"]
    assert await _inbox(platform, as_user("leader1", "leader", agency="000.00.21.H49")) == []
    assert [m["channel"] for m in await platform.messages()] == ["in_app"]  # the citizen is not texted
    r = await platform.client.get("/messages/agency", headers=leader, params={"cursor": "eyJiZWZvcmUiOiA1fQ"})
    assert r.status_code == 422


async def _inbox(platform, who):
    r = await platform.client.get("/messages/agency", headers=who)
    assert r.status_code == 200, r.text
    return r.json()["items"]
