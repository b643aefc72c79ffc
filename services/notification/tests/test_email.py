"""E-mail over SMTP, against a real aiosmtpd server on loopback."""

import logging
from collections.abc import AsyncIterator

import pytest

from notification.email import EmailSender, InvalidAddress, SmtpSettings, mask_address

from .smtp_server import SmtpServer, free_port, smtp_server

TO = "an.nguyen@example.vn"
SUBJECT = "Hồ sơ 000.00.21.H49-261123-0003 đã được tiếp nhận"
TEXT = "Kính gửi ông Nguyễn Văn An,\nHồ sơ của ông đã được tiếp nhận. Ngày hẹn trả kết quả: 27/11/2026.\n"
FROM_NAME = "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh"
HTML = "<p>Kính gửi ông <b>Nguyễn Văn An</b>,</p><p>Hồ sơ của ông đã được tiếp nhận.</p>"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    async with smtp_server() as server:
        yield server


def sender_for(port: int) -> EmailSender:
    return EmailSender(SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=2))


async def test_vietnamese_email_arrives_intact(smtp: SmtpServer):
    result = await sender_for(smtp.port).send(TO, SUBJECT, TEXT, HTML, message_id="dlv-01J9Z")

    assert result.accepted and result.error is None
    [received] = smtp.messages
    assert received.rcpt_tos == [TO]
    assert received.raw.isascii()  # 7-bit clean on the wire: encoded words and quoted-printable
    message = received.message
    assert message["Subject"] == SUBJECT
    assert received.header("From") == f"{FROM_NAME} <khong-tra-loi@motcua.example.vn>"
    assert message["Message-ID"] == "<motcua.dlv-01J9Z@motcua.example.vn>"
    assert message["Date"].datetime.tzinfo is not None
    # Text travels with CRLF line ends, as SMTP requires.
    assert message.get_body(("plain",)).get_content().splitlines() == TEXT.splitlines()
    assert message.get_body(("html",)).get_content().strip() == HTML


async def test_resend_carries_the_same_message_id(smtp: SmtpServer):
    sender = sender_for(smtp.port)
    await sender.send(TO, SUBJECT, TEXT, message_id="dlv-7")
    await sender.send(TO, SUBJECT, TEXT, message_id="dlv-7")

    first, second = smtp.messages
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert not first.message.is_multipart()  # no HTML given: a single text/plain part


async def test_451_is_temporary(smtp: SmtpServer):
    smtp.fail_next("451 4.3.0 try later", at="DATA")

    result = await sender_for(smtp.port).send(TO, SUBJECT, TEXT, message_id="dlv-2")

    assert (result.accepted, result.temporary, result.code) == (False, True, 451)
    assert "try later" in result.error
    assert smtp.messages == []
    # The refusal was for that one message only.
    assert (await sender_for(smtp.port).send(TO, SUBJECT, TEXT, message_id="dlv-2")).accepted


async def test_550_unknown_mailbox_is_permanent(smtp: SmtpServer):
    smtp.fail_next("550 5.1.1 no such user")

    result = await sender_for(smtp.port).send(TO, SUBJECT, TEXT, message_id="dlv-3")

    assert (result.accepted, result.temporary, result.code) == (False, False, 550)
    assert result.error == "550 5.1.1 no such user"


async def test_server_down_is_temporary():
    result = await sender_for(free_port()).send(TO, SUBJECT, TEXT, message_id="dlv-4")

    assert not result.accepted and result.temporary and result.code is None


async def test_invalid_address_is_refused_before_connecting(smtp: SmtpServer):
    # Raised, not returned as a failed SendResult: no connection was attempted.
    with pytest.raises(InvalidAddress, match="not a valid e-mail address"):
        await sender_for(smtp.port).send("an.nguyen@@example", SUBJECT, TEXT, message_id="dlv-5")
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("address", "masked"), [("an.nguyen@example.vn", "a***@example.vn"), ("x@ubnd.vn", "x***@ubnd.vn"), ("", "***")]
)
def test_mask_address(address, masked):
    assert mask_address(address) == masked


async def test_logs_mask_the_address_and_never_carry_the_body(smtp: SmtpServer, caplog):
    smtp.fail_next(f"550 5.1.1 <{TO}>: Recipient address rejected")
    sender = sender_for(smtp.port)

    with caplog.at_level(logging.DEBUG):
        refused = await sender.send(TO, SUBJECT, TEXT, message_id="dlv-6")
        sent = await sender.send(TO, SUBJECT, TEXT, message_id="dlv-6")

    assert sent.accepted and not refused.accepted
    assert refused.error == "550 5.1.1 <a***@example.vn>: Recipient address rejected"
    ours = [r.getMessage() for r in caplog.records if r.name == "notification.email"]
    assert len(ours) == 2 and all("a***@example.vn" in line for line in ours)
    for record in caplog.records:  # ours and the SMTP client's; the test server ("mail.log") is not ours
        if record.name.startswith("mail."):
            continue
        line = record.getMessage()
        assert TO not in line and "Nguyễn Văn An" not in line and SUBJECT not in line


def test_message_id_must_be_header_safe():
    sender = EmailSender(SmtpSettings())
    assert sender.message_id("01J9Z.a_b-c") == "<motcua.01J9Z.a_b-c@motcua.example.vn>"
    with pytest.raises(ValueError, match="message_id"):
        sender.message_id("a>b@c")


def test_settings_come_from_motcua_smtp_environment(monkeypatch):
    monkeypatch.setenv("MOTCUA_SMTP_HOST", "smtp.quangninh.gov.vn")
    monkeypatch.setenv("MOTCUA_SMTP_PORT", "465")
    monkeypatch.setenv("MOTCUA_SMTP_SECURITY", "tls")
    monkeypatch.setenv("MOTCUA_SMTP_USERNAME", "motcua")
    monkeypatch.setenv("MOTCUA_SMTP_PASSWORD", "bí-mật")

    settings = SmtpSettings()

    assert (settings.host, settings.port, settings.security) == ("smtp.quangninh.gov.vn", 465, "tls")
    assert settings.password.get_secret_value() == "bí-mật"
    assert "bí-mật" not in repr(settings)
