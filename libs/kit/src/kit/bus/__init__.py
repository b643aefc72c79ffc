"""Event bus port: topics, keys with per-key order, consumer groups, at-least-once, DLQ."""

from kit.bus.base import EventBus, Handler, RetryPolicy, dlq_topic

__all__ = ["EventBus", "Handler", "RetryPolicy", "dlq_topic", "make_bus"]


def make_bus(settings) -> EventBus:
    """The adapter chosen by MOTCUA_BUS."""
    policy = RetryPolicy(attempts=settings.consumer_retries + 1, backoff=settings.consumer_backoff_seconds,
                         max_backoff=settings.consumer_max_backoff_seconds)
    if settings.bus == "kafka":
        from kit.bus.kafka import KafkaBus

        return KafkaBus(settings.kafka_bootstrap, client_id=settings.service_name,
                        topic_prefix=settings.topic_prefix, retry=policy)
    from kit.bus.memory import MemoryBus

    return MemoryBus(retry=policy)
