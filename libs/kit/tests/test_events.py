from datetime import UTC, datetime

from kit.events import CloudEvent


def test_a_cloudevent_survives_the_kafka_binary_mode_round_trip():
    original = CloudEvent(id="e-1", source="/dossier", type="vn.motcua.dossier.received.v1", subject="H49-261123-0001",
                          time=datetime(2026, 11, 23, 8, 30, tzinfo=UTC), data={"state": "received", "tên": "Đăng ký kết hôn"},
                          traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                          extensions={"dlqerror": "boom"})
    headers = dict(original.kafka_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"vn.motcua.dossier.received.v1"
    assert headers["content-type"] == b"application/json"
    assert headers["traceparent"].startswith(b"00-0af7")
    back = CloudEvent.from_kafka(original.kafka_headers(), original.kafka_value())
    assert back == original
