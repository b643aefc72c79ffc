"""Rate limits at the gateway, counted in Redis so every replica shares them (in memory in the embedded
mode, one process, with the same semantics).

Three kinds of limit:

- **Callers**: a token bucket (GCRA: one timestamp per bucket) per client address for anonymous
  callers, per verified subject for signed-in ones: `MOTCUA_RATE_CLIENT_*`, `MOTCUA_RATE_USER_*`.
- **Status lookups** (`GET /lookup/{code}`, `POST /lookup`, `POST /dossiers/{code}/receipt`: the
  security code is their credential): a stricter bucket per caller (`MOTCUA_RATE_LOOKUP_*`), and a
  lockout per dossier code against guessing its security code. The lookup and the receipt answer a
  wrong code (and an unknown dossier, alike) with 404 `/problems/dossier-not-found`; each such answer
  counts as a failure of that dossier code, and `MOTCUA_RATE_LOOKUP_MAX_FAILURES` failures within
  `MOTCUA_RATE_LOOKUP_FAILURE_WINDOW_SECONDS` lock it for `MOTCUA_RATE_LOOKUP_LOCK_SECONDS`: every
  lookup of it then answers 429 before reaching a service, even with the right code. A try is
  reserved before it is forwarded (and given back when it was not a wrong code), so parallel tries
  cannot overshoot the limit while their answers are still on the way; a right code clears the
  failures (only its holder can do that). Any dossier code counts, known or not: a lock tells
  nothing about whether the dossier exists.
- Every refusal is a 429 problem with `Retry-After`.

The caller limits wrap the /api/v1 route (`RateLimits.call`); the lookup protections wrap the proxy
itself (`RateLimits.guard`), so whatever forwards a security code through it (the /api/v1 routes, the
web pages' lookup and receipt) passes them.

Redis down (or slow beyond `MOTCUA_RATE_REDIS_TIMEOUT_SECONDS`): logged once, then skipped for
`MOTCUA_RATE_REDIS_RETRY_SECONDS` before the next try. The caller limits **fail open** (the platform
stays up without its counters); the security-code lockout **fails closed**: lookups and receipts
answer 503 with `Retry-After`, since letting them through would allow unlimited guessing (and the
lookup's read model lives in Redis too, so it could hardly answer meanwhile).

Keys are `<MOTCUA_CACHE_PREFIX><MOTCUA_RATE_KEY_PREFIX>...` and hold only SHA-256 digests of client
addresses, subjects and dossier codes (pseudonymous, not anonymous: an IPv4 address can be found
from its digest by trying them all). A dossier code's keys share a Redis Cluster hash tag."""

import asyncio
import hashlib
import ipaddress
import json
import logging
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import Response
from redis import asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from kit.problems import PROBLEM_JSON, Problem

log = logging.getLogger("gateway.ratelimit")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What the lookup and the receipt answer for a wrong security code (and, alike, for an unknown dossier).
WRONG_CODE_STATUS = 404
WRONG_CODE_TYPE = "/problems/dossier-not-found"

# The routes whose credential is a dossier's security code; the code is in the path or in the JSON body.
GUARDED_IN_PATH = [({"GET", "HEAD"}, re.compile(r"^/lookup/([^/]+)$")),
                   ({"POST"}, re.compile(r"^/dossiers/([^/]+)/receipt$"))]
GUARDED_IN_BODY = [({"POST"}, re.compile(r"^/lookup$"))]
# Bodies that do not yield a code (not JSON, no string `code`, too long) share one bucket of their own:
# whatever the service makes of them, they cannot be used to get around the lockout.
UNREADABLE = "\x00unreadable"
MAX_LOOKUP_BODY = 4096


@dataclass(frozen=True)
class Rate:
    """`limit` requests per `period` seconds, in a burst or spread out."""

    limit: int
    period: float

    @property
    def interval_ms(self) -> int:
        return max(1, round(self.period * 1000 / self.limit))

    @property
    def period_ms(self) -> int:
        return max(1, round(self.period * 1000))


@dataclass(frozen=True)
class Lockout:
    max_failures: int
    window: float  # seconds in which max_failures wrong codes lock the dossier code
    lock: float  # seconds it stays locked
    pending_ttl: float  # a reserved try not settled by then (its gateway died) no longer counts as pending


class CountersDown(Exception):
    """The counters' store cannot be reached."""


# -- counters: Redis (Lua, atomic) and memory, one semantics --------------------------------------

class Counters(ABC):
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @abstractmethod
    async def take(self, key: str, rate: Rate) -> float:
        """Take a token from a bucket: 0 if allowed, else the seconds until one is free."""

    @abstractmethod
    async def reserve(self, keys: "CodeKeys", lockout: Lockout) -> float:
        """Reserve a try for a dossier code: 0 if allowed, else the seconds to wait."""

    @abstractmethod
    async def settle(self, keys: "CodeKeys", lockout: Lockout, *, outcome: str) -> None:
        """End a reserved try. `outcome`: "wrong" (a wrong code: one more failure, which may lock the
        code), "right" (the failures are forgotten), or "other" (no answer about the code: nothing)."""


@dataclass(frozen=True)
class CodeKeys:
    failures: str
    pending: str
    lock: str


# GCRA: the bucket is the "theoretical arrival time" of the next request; a burst of `limit` fits in
# one period. Redis's own clock, so replicas with skewed clocks agree.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now then return allow_at - now end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return 0
"""

# KEYS: failures, pending, lock. ARGV: max failures, pending ttl ms. Returns ms to wait, 0 if reserved.
RESERVE = """
local locked = redis.call('PTTL', KEYS[3])
if locked > 0 then return locked end
local failures = tonumber(redis.call('GET', KEYS[1]) or 0)
local pending = tonumber(redis.call('GET', KEYS[2]) or 0)
if failures + pending >= tonumber(ARGV[1]) then return 1000 end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 0
"""

# KEYS: failures, pending, lock. ARGV: outcome (wrong, right, other), max failures, window ms, lock ms.
# A right code clears the failures: only someone who holds the code can do that.
SETTLE = """
if tonumber(redis.call('GET', KEYS[2]) or 0) > 0 and redis.call('DECR', KEYS[2]) <= 0 then
  redis.call('DEL', KEYS[2])
end
if ARGV[1] == 'right' then redis.call('DEL', KEYS[1]) end
if ARGV[1] ~= 'wrong' then return 0 end
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if failures >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
end
return failures
"""


class RedisCounters(Counters):
    def __init__(self, url: str, *, timeout: float):
        self.url = url
        self.timeout = timeout
        self.client: aioredis.Redis | None = None

    async def start(self) -> None:
        # No retries: a call that fails is answered by the fallback at once (see RateLimits._call).
        self.client = aioredis.Redis.from_url(self.url, socket_timeout=self.timeout,
                                              socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0))
        self._gcra = self.client.register_script(GCRA)
        self._reserve = self.client.register_script(RESERVE)
        self._settle = self.client.register_script(SETTLE)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _run(self, script, keys: list[str], args: list) -> int:
        try:
            return int(await asyncio.wait_for(script(keys=keys, args=args), self.timeout))
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            raise CountersDown(f"{type(exc).__name__}: {exc}") from exc

    async def take(self, key: str, rate: Rate) -> float:
        return await self._run(self._gcra, [key], [rate.interval_ms, rate.period_ms]) / 1000

    async def reserve(self, keys: CodeKeys, lockout: Lockout) -> float:
        waited = await self._run(self._reserve, [keys.failures, keys.pending, keys.lock],
                                 [lockout.max_failures, _ms(lockout.pending_ttl)])
        return waited / 1000

    async def settle(self, keys: CodeKeys, lockout: Lockout, *, outcome: str) -> None:
        await self._run(self._settle, [keys.failures, keys.pending, keys.lock],
                        [outcome, lockout.max_failures, _ms(lockout.window), _ms(lockout.lock)])


class MemoryCounters(Counters):
    """The same scripts for one process (embedded mode). Expired keys go when next read, and every
    so often in a sweep, so a stream of distinct clients does not grow the dict without end."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.data: dict[str, tuple[float, float]] = {}  # key → (value, expires at)
        self.next_sweep = 0.0

    def _get(self, key: str, now: float) -> float | None:
        item = self.data.get(key)
        if item is None or item[1] <= now:
            self.data.pop(key, None)
            return None
        return item[0]

    def _sweep(self, now: float) -> None:
        if now >= self.next_sweep:
            self.data = {k: v for k, v in self.data.items() if v[1] > now}
            self.next_sweep = now + 60

    async def take(self, key: str, rate: Rate) -> float:
        now = self.clock()
        self._sweep(now)
        tat = max(self._get(key, now) or now, now)
        new_tat = tat + rate.interval_ms / 1000
        allow_at = new_tat - rate.period_ms / 1000
        if allow_at > now:
            return allow_at - now
        self.data[key] = (new_tat, new_tat)
        return 0.0

    async def reserve(self, keys: CodeKeys, lockout: Lockout) -> float:
        now = self.clock()
        self._sweep(now)
        if self._get(keys.lock, now) is not None:
            return self.data[keys.lock][1] - now
        failures = self._get(keys.failures, now) or 0
        pending = self._get(keys.pending, now) or 0
        if failures + pending >= lockout.max_failures:
            return 1.0
        self.data[keys.pending] = (pending + 1, now + lockout.pending_ttl)
        return 0.0

    async def settle(self, keys: CodeKeys, lockout: Lockout, *, outcome: str) -> None:
        now = self.clock()
        pending = self._get(keys.pending, now)
        if pending and pending > 1:
            self.data[keys.pending] = (pending - 1, self.data[keys.pending][1])
        elif pending:
            del self.data[keys.pending]
        if outcome == "right":
            self.data.pop(keys.failures, None)
        if outcome != "wrong":
            return
        failures = self._get(keys.failures, now)
        expires = self.data[keys.failures][1] if failures is not None else now + lockout.window
        failures = (failures or 0) + 1
        if failures >= lockout.max_failures:
            self.data[keys.lock] = (1, now + lockout.lock)
            self.data.pop(keys.failures, None)
        else:
            self.data[keys.failures] = (failures, expires)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


# -- client address ----------------------------------------------------------------------------------

def parse_networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(value: str, trusted: list[Network]) -> bool:
    address = _address(value)
    return address is not None and any(address in network for network in trusted)


def client_address(request: Request, trusted: list[Network]) -> str:
    """The caller's address: the direct peer, unless that is a trusted proxy; then the right-most
    X-Forwarded-For address that is not itself a trusted proxy (what our own proxies saw; whatever a
    client wrote to the left of it is ignored)."""
    peer = request.client.host if request.client else ""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer  # every hop is ours: the request started inside


def client_bucket(address: str) -> str:
    """What a client's bucket is keyed by: its IPv4 address, or its IPv6 /64 (one subscriber usually
    holds a whole /64, and could otherwise take a fresh bucket per address)."""
    parsed = _address(address)
    if parsed is None:
        return address[:100]
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def canonical_code(code: str) -> str:
    """A dossier code as the lockout counts it. Coarser than the services' (decoded, trimmed, upper
    case): two spellings that a service could read as one code must share a counter, while two
    codes sharing one only makes the lockout stricter."""
    for _ in range(3):
        decoded = unquote(code)
        if decoded == code:
            break
        code = decoded
    return code.strip().upper()[:128]


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# -- the limits ----------------------------------------------------------------------------------

def too_many(slug: str, detail: str, retry_after: float, **extra) -> Problem:
    problem = Problem(429, slug, "Quá nhiều yêu cầu / Too many requests", detail, **extra)
    problem.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return problem


class RateLimits:
    def __init__(self, counters: Counters, *, prefix: str, client: Rate, user: Rate, lookup: Rate,
                 lockout: Lockout, trusted_proxies: Iterable[str] = (), retry_seconds: float = 5.0,
                 enabled: bool = True):
        self.counters = counters
        self.prefix = prefix
        self.client, self.user, self.lookup, self.lockout = client, user, lookup, lockout
        self.trusted = parse_networks(trusted_proxies)
        self.retry_seconds = retry_seconds
        self.enabled = enabled
        self.down_until = 0.0  # while in the future, the counters are not asked (they were down)

    @classmethod
    def from_settings(cls, settings) -> "RateLimits":
        if settings.cache == "redis":
            counters: Counters = RedisCounters(settings.redis_url, timeout=settings.rate_redis_timeout_seconds)
        else:
            counters = MemoryCounters()
        return cls(counters, prefix=settings.cache_prefix + settings.rate_key_prefix,
                   client=Rate(settings.rate_client_limit, settings.rate_client_period_seconds),
                   user=Rate(settings.rate_user_limit, settings.rate_user_period_seconds),
                   lookup=Rate(settings.rate_lookup_limit, settings.rate_lookup_period_seconds),
                   lockout=Lockout(settings.rate_lookup_max_failures, settings.rate_lookup_failure_window_seconds,
                                   settings.rate_lookup_lock_seconds,
                                   pending_ttl=2 * settings.upstream_timeout_seconds + 5),
                   trusted_proxies=settings.trusted_proxies, retry_seconds=settings.rate_redis_retry_seconds,
                   enabled=settings.rate_limits)

    async def start(self) -> None:
        if self.enabled:
            await self.counters.start()

    async def stop(self) -> None:
        await self.counters.stop()

    # -- the counters, with the Redis-down fallback

    async def _call(self, operation: Awaitable):
        """Run one counters operation; raise CountersDown (at once while they are known to be down)."""
        if time.monotonic() < self.down_until:
            operation.close()  # type: ignore[attr-defined]
            raise CountersDown("recently down")
        try:
            result = await operation
        except CountersDown as exc:
            if self.down_until == 0.0:
                log.warning("rate-limit counters unreachable (%s): caller limits are off and lookups answer 503 "
                            "until they are back", exc)
            self.down_until = time.monotonic() + self.retry_seconds
            raise
        if self.down_until:
            log.info("rate-limit counters reachable again")
            self.down_until = 0.0
        return result

    def _unavailable(self) -> Problem:
        wait = max(1.0, self.down_until - time.monotonic())
        problem = Problem(503, "rate-limit-unavailable",
                          "Tạm thời không tra cứu được / Lookups temporarily unavailable",
                          "Không kiểm tra được giới hạn tra cứu mã bảo mật; vui lòng thử lại sau. / The security-code "
                          "attempt limit cannot be checked right now; please retry later.")
        problem.headers["Retry-After"] = str(math.ceil(wait))
        return problem

    async def _take(self, bucket: str, rate: Rate) -> float:
        try:
            return await self._call(self.counters.take(self.prefix + bucket, rate))
        except CountersDown:
            return 0.0  # fail open: the platform stays up without its counters

    def _code_keys(self, code: str) -> CodeKeys:
        tag = "{" + digest(canonical_code(code)) + "}"
        return CodeKeys(failures=f"{self.prefix}code:{tag}:failures", pending=f"{self.prefix}code:{tag}:pending",
                        lock=f"{self.prefix}code:{tag}:lock")

    # -- one request

    async def guarded_code(self, request: Request, target: str) -> str | None:
        """The dossier code a request tries a security code for, None if it is no such request."""
        for methods, pattern in GUARDED_IN_PATH:
            if request.method in methods and (match := pattern.match(target)):
                return match.group(1)
        for methods, pattern in GUARDED_IN_BODY:
            if request.method in methods and pattern.match(target):
                body = await request.body()  # kept by the request: the proxy reads it again
                if len(body) > MAX_LOOKUP_BODY:
                    return UNREADABLE
                try:
                    code = json.loads(body).get("code")
                except (ValueError, AttributeError):
                    return UNREADABLE
                return code if isinstance(code, str) else UNREADABLE
        return None

    def _caller(self, request: Request, principal) -> str:
        """The bucket of whoever sends a request: the verified subject, else the client's address (kept
        as `request.state.client_address` for whoever needs the client's address after the limits)."""
        address = client_address(request, self.trusted)
        request.state.client_address = address
        if principal is not None:
            return "user:" + digest(principal.subject)
        return "client:" + digest(client_bucket(address))

    async def call(self, request: Request, target: str, principal, forward: Callable[[], Awaitable[Response]]
                   ) -> Response:
        """The caller limits of an /api/v1 request, then `forward()` (which passes `guard`'s lockout
        when it forwards through a guarded proxy); or a 429 problem."""
        if self.enabled:
            caller = self._caller(request, principal)
            if principal is not None:
                wait = await self._take(caller, self.user)
                if wait:
                    raise too_many("rate-limited", "Tài khoản này gửi quá nhiều yêu cầu; vui lòng thử lại sau. / "
                                   "This account sent too many requests; please retry later.", wait, scope="user")
            else:
                wait = await self._take(caller, self.client)
                if wait:
                    raise too_many("rate-limited", "Địa chỉ này gửi quá nhiều yêu cầu; vui lòng thử lại sau. / Too "
                                   "many requests from this address; please retry later.", wait, scope="client")
        return await forward()

    def guard(self, proxy) -> None:
        """Put the security-code protections (per-caller lookup limit, dossier-code lockout) in front of
        every forward by `proxy`: the /api/v1 routes and whatever else forwards through it (the web
        pages' lookup and receipt), so no way round them is left."""
        forward = proxy.forward

        async def guarded(request: Request, upstream: str, path: str, principal, *args, **kwargs) -> Response:
            return await self.check_code(request, path, principal,
                                         lambda: forward(request, upstream, path, principal, *args, **kwargs))

        proxy.forward = guarded

    async def check_code(self, request: Request, target: str, principal,
                         forward: Callable[[], Awaitable[Response]]) -> Response:
        """For a request that tries a dossier's security code: the lookup limit and the lockout around
        `forward()`; any other request is forwarded as it is."""
        code = await self.guarded_code(request, target) if self.enabled else None
        if code is None:
            return await forward()
        wait = await self._take("lookup:" + self._caller(request, principal), self.lookup)
        if wait:
            raise too_many("rate-limited", "Quá nhiều lượt tra cứu hồ sơ; vui lòng thử lại sau. / Too many dossier "
                           "lookups; please retry later.", wait, scope="lookup")
        keys = self._code_keys(code)
        try:
            wait = await self._call(self.counters.reserve(keys, self.lockout))
        except CountersDown:
            raise self._unavailable() from None  # fail closed: no unlimited guessing
        if wait:
            raise too_many("dossier-code-locked", "Hồ sơ này tạm thời bị khoá tra cứu do nhập sai mã bảo mật nhiều "
                           "lần; vui lòng thử lại sau. / Lookups of this dossier are locked for a while after too "
                           "many wrong security codes; please retry later.", wait, scope="dossier-code")
        outcome = "other"  # the service did not tell (it failed, timed out, refused the request's shape)
        try:
            response = await forward()
            outcome = "wrong" if is_wrong_code(response) else "right" if 200 <= response.status_code < 300 else outcome
            return response
        finally:
            try:
                await self._call(self.counters.settle(keys, self.lockout, outcome=outcome))
            except CountersDown:
                pass  # the pending try expires on its own


def is_wrong_code(response: Response) -> bool:
    """A service's answer to a wrong security code (or an unknown dossier, told apart by nobody)."""
    if response.status_code != WRONG_CODE_STATUS:
        return False
    if response.headers.get("content-type", "").split(";")[0].strip() != PROBLEM_JSON:
        return False
    try:
        return json.loads(response.body).get("type") == WRONG_CODE_TYPE
    except (ValueError, AttributeError):
        return False
