"""How a contract is declared, registered, built into a CloudEvent and parsed back."""

from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from kit.events import CloudEvent, new_event

REGISTRY: dict[str, type["EventData"]] = {}
T = TypeVar("T", bound="EventData")


class UnknownEventType(Exception):
    pass


class EventData(BaseModel):
    """The `data` of one event type. Consumers ignore fields they do not know (forward compatible)."""

    model_config = ConfigDict(extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    summary: ClassVar[str] = ""


def contract(event_type: str, topic: str, summary: str):
    """Register a data model under its CloudEvents type and topic."""

    def register(cls: type[T]) -> type[T]:
        if event_type in REGISTRY:
            raise ValueError(f"{event_type} registered twice")
        cls.event_type = event_type
        cls.topic = topic
        cls.summary = summary
        REGISTRY[event_type] = cls
        return cls

    return register


def build(data: EventData, *, source: str, subject: str) -> CloudEvent:
    return new_event(source=source, type=data.event_type, subject=subject, data=data.model_dump(mode="json"))


def parse(event: CloudEvent) -> EventData:
    model = REGISTRY.get(event.type)
    if model is None:
        raise UnknownEventType(event.type)
    return model.model_validate(event.data)


def data_of(event: CloudEvent, model: type[T]) -> T:
    if event.type != model.event_type:
        raise UnknownEventType(f"expected {model.event_type}, got {event.type}")
    return model.model_validate(event.data)


def topics() -> dict[str, list[type[EventData]]]:
    by_topic: dict[str, list[type[EventData]]] = {}
    for model in REGISTRY.values():
        by_topic.setdefault(model.topic, []).append(model)
    return by_topic
