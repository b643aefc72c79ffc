"""Một Cửa event contracts: one pydantic model per CloudEvents type, registered with its topic."""

from contracts import calendar, catalog, dossier, feedback, notification, payment  # noqa: F401  (registers every contract)
from contracts.base import REGISTRY, EventData, UnknownEventType, build, data_of, parse, topics

__all__ = ["REGISTRY", "EventData", "UnknownEventType", "build", "data_of", "parse", "topics"]
