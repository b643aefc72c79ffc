"""A circuit breaker: stop calling a dependency that keeps failing, try it again after a cool-down.
Used by the SMS failover (per provider) and the gateway's proxy (per upstream)."""

import time
from collections.abc import Callable


class CircuitBreaker:
    """Open after `threshold` consecutive failures; after `cooldown` one trial is let through (half-open),
    and a failure of that trial opens it again, a success closes it."""

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.failures = 0
        self._opened_at = 0.0

    def allows(self) -> bool:
        return self.failures < self.threshold or self._clock() - self._opened_at >= self.cooldown

    def record_success(self) -> None:
        self.failures = 0

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self._opened_at = self._clock()

    def retry_after(self) -> float:
        """Seconds until an open circuit lets a trial through (0 when closed or half-open)."""
        if self.failures < self.threshold:
            return 0.0
        return max(0.0, self.cooldown - (self._clock() - self._opened_at))
