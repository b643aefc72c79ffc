"""Petitions are public to send; the submitter's personal data is not echoed back."""

from kit.bus.memory import MemoryBus
from kit.testing import eventually, serving
from feedback.app import create_app
from feedback.settings import FeedbackSettings

PETITION = {"category": "conduct", "title": "Cán bộ hẹn lại nhiều lần",
            "content": "Tôi đã đến nộp hồ sơ ba lần nhưng đều được hẹn lại mà không rõ lý do.",
            "submitter": {"name": "Trần Văn Bảo", "phone": "0987654321", "email": "bao@example.vn"}}


async def test_a_petition_is_received_and_announced_without_echoing_the_submitter(store):
    bus = MemoryBus()
    seen = []

    async def watch(event):
        seen.append(event)

    bus.subscribe("feedback.events", "test-watch", watch)
    async with serving(create_app(FeedbackSettings(), bus=bus, store=store)) as client:
        r = await client.post("/petitions", json=PETITION)
        assert r.status_code == 201
        body = r.json()
        assert body["state"] == "received" and body["id"].startswith("PAKN-")
        assert "0987654321" not in r.text and "bao@example.vn" not in r.text
        await eventually(lambda: seen)
        assert seen[0].type == "vn.motcua.feedback.received.v1"
        assert "0987654321" not in seen[0].model_dump_json()


async def test_a_petition_with_a_bad_phone_is_refused_and_not_stored(store):
    bus = MemoryBus()
    async with serving(create_app(FeedbackSettings(), bus=bus, store=store)) as client:
        bad = {**PETITION, "submitter": {**PETITION["submitter"], "phone": "12ab"}}
        r = await client.post("/petitions", json=bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.submitter.phone"
        assert await store.collection("petitions").count() == 0
    await bus.stop()
