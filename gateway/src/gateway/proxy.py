"""Forwarding to the services over pooled aiohttp sessions (about 15x the throughput of an httpx
client in the proxy path, measured on this machine: see issue 8)."""

import asyncio
import logging
import math
import uuid
from urllib.parse import quote

import aiohttp
from fastapi import Request
from fastapi.responses import Response
from opentelemetry.trace import SpanKind

from kit import metrics, telemetry
from kit.breaker import CircuitBreaker
from kit.identity import USER_AGENCY, USER_ID, USER_NAME, USER_ROLES
from kit.problems import Problem

from gateway.identity import Principal

log = logging.getLogger("gateway.proxy")

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
USER_HEADERS = {h.lower() for h in (USER_ID, USER_ROLES, USER_AGENCY, USER_NAME)}


class Proxy:
    def __init__(self, upstreams: dict[str, str], *, timeout: float, pool_size: int, breaker_failures: int = 5,
                 breaker_cooldown: float = 10.0, max_in_flight: dict[str, int] | None = None,
                 shed_retry_after: int = 1):
        self.upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
        # Load shedding: an upstream already holding its share of requests gets no more to queue; the
        # caller hears 503 + Retry-After at once, well within its own timeout.
        self.max_in_flight = {name: (max_in_flight or {}).get(name, pool_size) for name in self.upstreams}
        self.in_flight = dict.fromkeys(self.upstreams, 0)
        self.shed_retry_after = shed_retry_after
        self.timeout = timeout
        self.pool_size = pool_size
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        # An upstream that keeps failing is not waited on by every request: answered 503 at once until
        # its cool-down lets a trial through.
        self.breakers = {name: CircuitBreaker(breaker_failures, breaker_cooldown) for name in self.upstreams}

    async def start(self) -> None:
        for name in self.upstreams:
            self.sessions[name] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=self.timeout), auto_decompress=False)

    async def stop(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sessions.values()))
        self.sessions.clear()

    def _headers(self, request: Request, principal: Principal | None, request_id: str) -> dict[str, str]:
        # `X_User_Id` too: some servers and proxies read an underscore as a dash.
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in HOP_BY_HOP and not k.lower().replace("_", "-").startswith("x-user-")
                   and k.lower() != "authorization"}
        headers["X-Request-Id"] = request_id
        client = request.client.host if request.client else ""
        headers["X-Forwarded-For"] = client
        if principal is not None:
            headers[USER_ID] = principal.subject
            headers[USER_ROLES] = ",".join(principal.roles)
            if principal.agency:
                headers[USER_AGENCY] = principal.agency
            if principal.name:
                # Header values are latin-1 on the wire: send the display name percent-encoded.
                headers[USER_NAME] = quote(principal.name)
        return headers

    async def forward(self, request: Request, upstream: str, path: str, principal: Principal | None) -> Response:
        breaker = self.breakers[upstream]
        if not breaker.allows():
            raise _unavailable(upstream, math.ceil(breaker.retry_after()) or 1)
        if self.in_flight[upstream] >= self.max_in_flight[upstream]:
            metrics.instruments().shed.add(1, {"upstream": upstream})
            raise _overloaded(upstream, self.shed_retry_after)
        self.in_flight[upstream] += 1
        try:
            response = await self._forward(request, upstream, path, principal)
        except Problem as problem:
            if problem.status in (503, 504):
                breaker.record_failure()
            raise
        finally:
            self.in_flight[upstream] -= 1
        if response.status_code in (502, 504):
            breaker.record_failure()
        else:
            breaker.record_success()
        return response

    async def _forward(self, request: Request, upstream: str, path: str, principal: Principal | None) -> Response:
        session = self.sessions[upstream]
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        body = await request.body()
        url = f"{self.upstreams[upstream]}{path}"
        attempts = 2 if request.method in IDEMPOTENT else 1
        with telemetry.tracer.start_as_current_span(f"{request.method} {upstream}", kind=SpanKind.CLIENT,
                                                    attributes={"http.request.method": request.method,
                                                                "server.address": upstream}):
            headers = self._headers(request, principal, request_id)
            headers.update(telemetry.current_trace_headers())
            for attempt in range(1, attempts + 1):
                try:
                    async with session.request(request.method, url, params=list(request.query_params.multi_items()),
                                               data=body or None, headers=headers, allow_redirects=False) as answer:
                        content = await answer.read()
                        out = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                        out["X-Request-Id"] = request_id
                        return Response(content=content, status_code=answer.status, headers=out)
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                    if attempt < attempts:
                        continue
                    log.warning("upstream %s unreachable: %s", upstream, type(exc).__name__)
                    raise _unavailable(upstream, 5) from None
                except asyncio.TimeoutError:
                    raise Problem(504, "upstream-timeout", "Service timed out",
                                  f"The {upstream} service did not answer within {self.timeout:g}s.") from None
        raise AssertionError("unreachable")


def _overloaded(upstream: str, retry_after: int) -> Problem:
    problem = Problem(503, "upstream-overloaded", "Service busy",
                      f"The {upstream} service has as many requests as it can take; nothing was changed, retry "
                      f"in {retry_after} s.")
    problem.headers["Retry-After"] = str(retry_after)
    return problem


def _unavailable(upstream: str, retry_after: int) -> Problem:
    problem = Problem(503, "upstream-unavailable", "Service temporarily unavailable",
                      f"The {upstream} service cannot be reached; nothing was changed, retry later.")
    problem.headers["Retry-After"] = str(retry_after)
    return problem
