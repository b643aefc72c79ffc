"""One message per event, recipient and channel, whatever the redeliveries."""

from datetime import UTC, datetime

import pytest

from contracts import build
from contracts.dossier import ApplicantContact, DossierReceived
from kit.bus.memory import MemoryBus
from kit.testing import as_user, eventually, serving
from notification.app import create_app
from notification.settings import NotificationSettings

ADMIN = as_user("admin1", "admin")
CODE = "000.00.21.H49-261123-0007"


def received_event():
    data = DossierReceived(code=CODE, sequence=2, state="received", status_code=2, procedure_code="1.000894",
                           procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49", channel="online",
                           occurred_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
                           due_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), security_code_hash="0" * 64,
                           applicant=ApplicantContact(name="Nguyễn Văn An", phone="0912345678", email="an@example.vn"),
                           received_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC), received_by="reception1",
                           result_channel="online")
    return build(data, source="/dossier", subject=CODE)


@pytest.fixture
async def service(store):
    bus = MemoryBus()
    async with serving(create_app(NotificationSettings(), bus=bus, store=store)) as client:
        client.bus = bus
        yield client
    await bus.stop()


async def messages(client):
    r = await client.get("/messages", params={"dossier_code": CODE}, headers=ADMIN)
    return r.json()["items"]


async def test_a_received_dossier_is_announced_in_vietnamese_with_its_appointment(service):
    await service.bus.publish("dossier.events", received_event(), key=CODE)
    items = await eventually(lambda: _count(service, 3))
    assert {m["channel"] for m in items} == {"in_app", "email", "sms"}
    body = items[0]["body"]
    assert CODE in body and "đã được tiếp nhận lúc 09:15 ngày 23/11/2026" in body
    assert "Hẹn trả kết quả: 17:00 ngày 24/11/2026" in body


async def _count(service, n):
    items = await messages(service)
    return items if len(items) == n else None


async def test_the_same_event_delivered_three_times_records_one_message_per_channel(service):
    event = received_event()
    for _ in range(3):
        await service.bus.publish("dossier.events", event, key=CODE)
    await eventually(lambda: _count(service, 3))
    # The bus delivered all three copies; the duplicates recorded nothing more.
    consumed = service.bus.broker.committed
    await eventually(lambda: sum(v for (g, t, _), v in consumed.items() if g == "notification") == 3)
    assert len(await messages(service)) == 3


async def test_messages_are_for_officers_only(service):
    r = await service.get("/messages", params={"dossier_code": CODE}, headers=as_user("c", "citizen"))
    assert r.status_code == 403
