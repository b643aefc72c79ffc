"""CloudEvents 1.0 envelope, and its binary-mode mapping onto Kafka records."""

import json
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from kit import telemetry

CE_PREFIX = "ce_"
_CORE = ("specversion", "id", "source", "type", "subject", "time")


def utcnow() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """One domain event. `data` is JSON; extensions travel as extra ce_ attributes."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    # W3C trace context of the request that caused the event (distributed tracing extension).
    traceparent: str | None = None
    tracestate: str | None = None
    extensions: dict[str, str] = Field(default_factory=dict)

    def with_extensions(self, **values: str) -> "CloudEvent":
        return self.model_copy(update={"extensions": {**self.extensions, **values}})

    def without_extensions(self, *names: str) -> "CloudEvent":
        kept = {k: v for k, v in self.extensions.items() if k not in names}
        return self.model_copy(update={"extensions": kept})

    # --- Kafka binary content mode -------------------------------------------------

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        headers = [
            ("ce_specversion", self.specversion.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("content-type", self.datacontenttype.encode()),
        ]
        if self.subject is not None:
            headers.append(("ce_subject", self.subject.encode()))
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        if self.tracestate:
            headers.append(("tracestate", self.tracestate.encode()))
        headers.extend((CE_PREFIX + k, v.encode()) for k, v in self.extensions.items())
        return headers

    def kafka_value(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]] | tuple, value: bytes) -> "CloudEvent":
        attrs: dict[str, Any] = {}
        extensions: dict[str, str] = {}
        for name, raw in headers or ():
            text = raw.decode() if raw is not None else ""
            if name == "content-type":
                attrs["datacontenttype"] = text
            elif name in ("traceparent", "tracestate"):
                attrs[name] = text
            elif name.startswith(CE_PREFIX):
                attr = name[len(CE_PREFIX):]
                if attr in _CORE:
                    attrs[attr] = text
                else:
                    extensions[attr] = text
        attrs["data"] = json.loads(value) if value else {}
        attrs["extensions"] = extensions
        return cls.model_validate(attrs)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "CloudEvent":
        return cls.model_validate(raw)


def new_event(*, source: str, type: str, subject: str | None, data: dict[str, Any]) -> CloudEvent:
    """An event stamped with the trace context of the current span, so consumers join the trace."""
    carrier = telemetry.current_trace_headers()
    return CloudEvent(
        source=source,
        type=type,
        subject=subject,
        data=data,
        traceparent=carrier.get("traceparent"),
        tracestate=carrier.get("tracestate"),
    )
