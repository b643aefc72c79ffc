"""The lookup's hot path without FastAPI: a well-formed `GET /lookup/{code}?security_code=` or
`POST /lookup` is answered here, in front of the router, by the same `find_status` as the FastAPI
routes. FastAPI's routing, dependency solving and validation were a third of the lookup's CPU
(loadtests/README.md, Profiles).

Only requests the FastAPI routes would accept as they are take this path; anything else (a field
missing or out of bounds, a repeated parameter, another content type, HEAD) goes on to those routes,
which answer it as documented (422 and the rest). It sits inside kit's middleware, so the access log,
the request metrics (under the routes' own templates), the body limit and the trace context still apply."""

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from kit.cache import Cache, CacheUnavailable
from kit.http import METRICS_ROUTE
from kit.problems import Unavailable, problem_response

from dossier.lookup.api import NOT_FOUND, LookupRequest, find_status

GET_PREFIX = "/lookup/"
GET_ROUTE = "/lookup/{code}"
POST_ROUTE = "/lookup"
# The bounds of the FastAPI routes' parameters, read from their model so the two cannot drift apart.
_FIELDS = LookupRequest.model_fields
CODE_LENGTH = (_FIELDS["code"].metadata[0].min_length, _FIELDS["code"].metadata[1].max_length)
SECURITY_CODE_LENGTH = (_FIELDS["security_code"].metadata[0].min_length,
                        _FIELDS["security_code"].metadata[1].max_length)
MAX_BODY = 4096  # a valid lookup body is well under this; a longer one goes the FastAPI way
JSON_HEADERS = [(b"content-type", b"application/json")]


def _within(value: object, bounds: tuple[int, int]) -> bool:
    return isinstance(value, str) and bounds[0] <= len(value) <= bounds[1]


def _security_code_of(query_string: bytes) -> str | None:
    """The one `security_code` of the query string, as Starlette would parse it; None if absent or repeated."""
    values = [v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if k == "security_code"]
    return values[0] if len(values) == 1 else None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False


class FastLookup:
    def __init__(self, app: ASGIApp, cache: Cache, pepper: str):
        self.app = app
        self.cache = cache
        self.pepper = pepper

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method == "GET" and path.startswith(GET_PREFIX) and "/" not in path[len(GET_PREFIX):] \
                    and len(path) > len(GET_PREFIX):
                security_code = _security_code_of(scope["query_string"])
                if _within(security_code, SECURITY_CODE_LENGTH):
                    scope[METRICS_ROUTE] = GET_ROUTE
                    await self._answer(scope, receive, send, path[len(GET_PREFIX):], security_code)
                    return
            elif method == "POST" and path == POST_ROUTE and _is_json(scope):
                body, receive = await _read_body(receive)
                fields = _lookup_fields(body)
                if fields is not None:
                    scope[METRICS_ROUTE] = POST_ROUTE
                    await self._answer(scope, receive, send, *fields)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, code: str, security_code: str) -> None:
        try:
            public = await find_status(self.cache, self.pepper, code, security_code)
        except CacheUnavailable as exc:
            problem = Unavailable(f"A dependency is unavailable ({type(exc).__name__}); nothing was changed, "
                                  "retry later.")
            await problem_response(problem, scope["path"])(scope, receive, send)
            return
        if public is None:
            await problem_response(NOT_FOUND, scope["path"])(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": JSON_HEADERS + [(b"content-length", str(len(public)).encode())]})
        await send({"type": "http.response.body", "body": public})


def _lookup_fields(body: bytes | None) -> tuple[str, str] | None:
    if body is None:
        return None
    try:
        data = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8: the FastAPI route names the problem
        return None
    if not isinstance(data, dict):
        return None
    code, security_code = data.get("code"), data.get("security_code")
    if _within(code, CODE_LENGTH) and _within(security_code, SECURITY_CODE_LENGTH):
        return code, security_code
    return None


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (None past MAX_BODY), and a `receive` that hands the same messages on to
    whatever reads the request next."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body") or size > MAX_BODY:
            break
    complete = messages[-1]["type"] == "http.request" and not messages[-1].get("more_body")
    body = b"".join(m.get("body", b"") for m in messages) if complete and size <= MAX_BODY else None
    pending = list(messages)

    async def replay() -> dict:
        return pending.pop(0) if pending else await receive()

    return body, replay
