"""Send through the primary provider, retrying temporary failures with backoff; fail over to the next one
when it keeps failing (its retries run out, or its circuit breaker is open).

Within one call a message is accepted at most once: the first acceptance ends the call. A retry on the same
provider carries the same client_ref, so a gateway that deduplicates it is safe even after a read timeout;
failing over after a timeout can still, rarely, deliver twice (the first gateway may have taken it)."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kit.breaker import CircuitBreaker

from notification.sms.base import ProviderError, SendResult, SmsProvider, mask_phone, normalize_phone
from notification.sms.settings import SmsSettings

log = logging.getLogger("notification.sms")


@dataclass(frozen=True)
class FailoverResult:
    provider: str | None  # the provider that accepted, None when none did
    result: SendResult
    attempts: int  # tries made, over all providers


class FailoverSender:
    def __init__(self, providers: Sequence[SmsProvider], *, attempts: int = 4, backoff: float = 0.2,
                 max_backoff: float = 2.0, breaker_failures: int = 5, breaker_cooldown: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic):
        if not providers:
            raise ValueError("at least one SMS provider is needed")
        self.providers = list(providers)
        self.breakers = {p.name: CircuitBreaker(breaker_failures, breaker_cooldown, clock) for p in providers}
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: SmsSettings, providers: Sequence[SmsProvider]) -> "FailoverSender":
        return cls(providers, attempts=settings.attempts, backoff=settings.backoff_seconds,
                   max_backoff=settings.max_backoff_seconds, breaker_failures=settings.breaker_failures,
                   breaker_cooldown=settings.breaker_cooldown_seconds)

    async def send(self, to: str, text: str, message_id: str) -> FailoverResult:
        number = normalize_phone(to)  # an invalid number is refused before any provider is asked
        result = SendResult(accepted=False, temporary=True, error="every provider's circuit is open")
        tries = 0
        for provider in self.providers:
            breaker = self.breakers[provider.name]
            if not breaker.allows():
                continue
            for attempt in range(self._attempts):
                if attempt:
                    await self._sleep(min(self._backoff * 2 ** (attempt - 1), self._max_backoff))
                tries += 1
                try:
                    result = await provider.send(number, text, message_id)
                except ProviderError as exc:
                    result = SendResult(accepted=False, temporary=True, error=str(exc))
                if result.accepted:
                    breaker.record_success()
                    return FailoverResult(provider.name, result, tries)
                if not result.temporary:
                    # The message itself is refused: another provider would refuse it too.
                    return FailoverResult(None, result, tries)
                breaker.record_failure()
                log.warning("sms try failed", extra={"provider": provider.name, "message_id": message_id,
                                                     "to": mask_phone(number), "error": result.error})
                if not breaker.allows():
                    break  # its circuit just opened: fail over now rather than wait out the retries
        return FailoverResult(None, result, tries)

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
