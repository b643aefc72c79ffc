"""Generate the AsyncAPI 3.0 document from the registered contracts.

    motcua-asyncapi > libs/contracts/asyncapi.json
"""

import json
import sys
from typing import Any

from contracts import topics

CLOUDEVENT_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary content mode",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string"},
        "ce_source": {"type": "string"},
        "ce_type": {"type": "string"},
        "ce_subject": {"type": "string", "description": "the aggregate id, also the record key"},
        "ce_time": {"type": "string", "format": "date-time"},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
    },
}


def _message_name(event_type: str) -> str:
    return event_type.removeprefix("vn.motcua.").replace(".", "_")


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic, models in sorted(topics().items()):
        channel_id = topic.replace(".", "_")
        refs = {}
        for model in sorted(models, key=lambda m: m.event_type):
            name = _message_name(model.event_type)
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[name] = schema
            messages[name] = {
                "name": model.event_type,
                "title": model.__name__,
                "summary": model.summary,
                "contentType": "application/json",
                "headers": CLOUDEVENT_HEADERS,
                "payload": {"$ref": f"#/components/schemas/{name}"},
                "bindings": {"kafka": {"key": {"type": "string", "description": "the aggregate id"}}},
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel_id] = {"address": topic, "messages": refs,
                                "description": f"Events keyed by aggregate id; parked failures go to {topic}.dlq"}
        operations[f"publish_{channel_id}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in refs]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Một Cửa domain events", "version": "1.0.0",
                 "description": "Events exchanged over Kafka by the Một Cửa services. Delivery is at least once; "
                                "consumers are idempotent on the CloudEvents id."},
        "defaultContentType": "application/json",
        "servers": {"kafka": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
