"""`/api/v1/*`: identity, the role matrix, the rate limits, then the service behind (pure ASGI).

In front of FastAPI's router, which matched every web page's route before reaching the catch-all and
solved its dependencies on each request: through the gateway, that routing was a quarter of a status
lookup's CPU (loadtests/README.md, Profiles). It sits inside kit's middleware (access log, request
metrics under the role matrix's route, body limit, trace context), and answers every refusal as the
routes did: a problem+json with the same types."""

import logging

from opentelemetry import trace
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from kit.http import METRICS_ROUTE
from kit.problems import NotFound, Problem, problem_response

from gateway import routes
from gateway.identity import TokenVerifier
from gateway.proxy import Proxy
from gateway.ratelimit import RateLimits

log = logging.getLogger("gateway.forward")

PREFIX = "/api/v1"
OWN = {"/api/v1/openapi.json"}  # answered by the gateway itself (FastAPI routes)
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}
CATCH_ALL = PREFIX + "/{path:path}"


class ApiForward:
    def __init__(self, app: ASGIApp, verifier: TokenVerifier, limits: RateLimits, proxy: Proxy):
        self.app = app
        self.verifier = verifier
        self.limits = limits
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX + "/") or path in OWN:
            await self.app(scope, receive, send)
            return
        # Refused before the role matrix names its route (404, 401): labelled as the catch-all route was.
        scope[METRICS_ROUTE] = CATCH_ALL
        request = Request(scope, receive)
        try:
            response = await self._forward(request, path[len(PREFIX):])
        except Problem as problem:
            response = problem_response(problem, path)
        except Exception:  # the same answer as kit.problems gives an unexpected error behind FastAPI
            log.exception("unhandled error on %s %s", scope["method"], PREFIX)
            response = problem_response(Problem(500, "internal-error", "Internal error"), path)
        await response(scope, receive, send)

    async def _forward(self, request: Request, target: str):
        if request.method not in METHODS:
            problem = Problem(405, "method-not-allowed", "Method Not Allowed")
            problem.headers["Allow"] = ", ".join(sorted(METHODS))
            raise problem
        upstream = routes.upstream_for(target)
        if upstream is None:
            raise NotFound("Route", request.url.path)
        principal = await self.verifier.verify_async(request.headers.get("authorization"))
        if principal is None and not routes.is_public(request.method, target):
            problem = Problem(401, "unauthenticated", "Sign-in required", "This route needs a bearer token.")
            problem.headers["WWW-Authenticate"] = "Bearer"
            raise problem
        route = routes.authorize(request.method, target, principal)  # the role matrix (gateway/roles.py): 404 or 403
        request.scope[METRICS_ROUTE] = PREFIX + route.path  # the metrics' label: the matrix row, not the path
        span = trace.get_current_span()  # the server span (when recorded) is named after that row too
        if span.is_recording():
            span.update_name(f"{request.method} {PREFIX}{route.path}")
            span.set_attribute("http.route", PREFIX + route.path)
        return await self.limits.call(request, target, principal,
                                      lambda: self.proxy.forward(request, upstream, target, principal))
