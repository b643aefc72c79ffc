"""Open311 GeoReport v2 routes (public), under /open311/v2/: parse, call the feedback handlers, render.

Every answer, errors included, is in the format the path asks for (`.json` or `.xml`; XML when the format
itself is wrong), never problem+json, so existing Open311 clients can read it."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from importlib.util import find_spec
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from kit.bus.kafka import BrokerUnavailable
from kit.cache import CacheUnavailable
from kit.problems import NotFound, Problem
from kit.rules import RuleViolation
from kit.store import StoreUnavailable

from feedback.open311 import (CONTENT_TYPES, DEFAULT_JURISDICTION, PREFIX, Open311Error, check_jurisdiction,
                              format_of, invalid, parse_query, render, request_list, service_definition,
                              service_list, submission_of, submitted)

router = APIRouter(tags=["Open311 GeoReport v2"])

MAX_FIELDS = 200
_FORMATS = {"content": {CONTENT_TYPES["xml"].split(";")[0]: {}, CONTENT_TYPES["json"].split(";")[0]: {}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The answer, in the format of the path (`.xml` or `.json`)", **_FORMATS},
    400: {"description": "Invalid input: a list of {code, description} naming the parameter", **_FORMATS},
    404: {"description": "Unknown service, request or jurisdiction", **_FORMATS},
}
Jurisdiction = Annotated[str | None, Query(description="Optional; when given, it must be this centre's "
                                           "(default `quangninh.gov.vn`)")]
Format = Annotated[str, Path(description="`json` or `xml`")]


def _jurisdiction(request: Request) -> str:
    settings = request.app.state.runtime.settings
    return getattr(settings, "open311_jurisdiction", None) or DEFAULT_JURISDICTION


def _response(fmt: str, root: str, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(render(fmt, root, payload), status_code=status, media_type=CONTENT_TYPES[fmt], headers=headers)


def _spec_status(status: int) -> int:
    """The spec's statuses: 404 for what does not exist, 403 for a key, 503 to retry, 400 for the rest."""
    return status if status in (403, 404, 413, 415, 503) else 400


async def _open311(fmt: str, work: Callable[[], Awaitable[tuple[str, Any]]]) -> Response:
    """Run one route's work in the requested format; any error it meets becomes the spec's error list."""
    chosen = "xml"
    try:
        chosen = format_of(fmt)
        root, payload = await work()
        return _response(chosen, root, payload)
    except Open311Error as error:
        failure = error
    except NotFound as problem:
        failure = Open311Error(404, invalid("service_request_id", "không tìm thấy", problem.detail or "not found"))
    except Problem as problem:
        failure = Open311Error(_spec_status(problem.status), problem.detail or problem.title, headers=problem.headers)
    except RuleViolation as violation:
        failure = Open311Error(_spec_status(violation.status), violation.detail)
    except (StoreUnavailable, CacheUnavailable, BrokerUnavailable):
        failure = Open311Error(503, "Hệ thống tạm thời gián đoạn, chưa có gì thay đổi, vui lòng thử lại sau. "
                                    "/ Temporarily unavailable; nothing was changed, retry later.",
                               headers={"Retry-After": "5"})
    return _response(chosen, "errors", failure.body(), failure.status, failure.headers)


@router.get(PREFIX + "/services.{format}", response_class=Response, responses=_RESPONSES,
            summary="Open311: the services (the two petition categories)")
async def services(request: Request, format: Format, jurisdiction_id: Jurisdiction = None) -> Response:
    async def work() -> tuple[str, Any]:
        check_jurisdiction(jurisdiction_id, _jurisdiction(request))
        return "services", service_list()

    return await _open311(format, work)


@router.get(PREFIX + "/services/{service_code}.{format}", response_class=Response, responses=_RESPONSES,
            summary="Open311: a service definition (its optional attributes)")
async def service(request: Request, service_code: str, format: Format,
                  jurisdiction_id: Jurisdiction = None) -> Response:
    async def work() -> tuple[str, Any]:
        check_jurisdiction(jurisdiction_id, _jurisdiction(request))
        return "service_definition", service_definition(service_code)

    return await _open311(format, work)


@router.get(PREFIX + "/requests.{format}", response_class=Response, responses=_RESPONSES,
            summary="Open311: petitions, newest first (at most 1,000; by default the last 90 days)",
            description="What the public may see of each petition: never the submitter; the question and "
                        "answer as published, otherwise only the title.")
async def requests(
    request: Request, format: Format, jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[list[str] | None, Query(description="Comma-separated; overrides the rest")] = None,
    service_code: Annotated[list[str] | None, Query(description="Comma-separated: PAKN-TTHC, PAKN-CB")] = None,
    start_date: Annotated[str | None, Query(description="W3C datetime, e.g. 2026-11-01T00:00:00+07:00")] = None,
    end_date: Annotated[str | None, Query(description="W3C datetime; at most 90 days after start_date")] = None,
    status: Annotated[list[str] | None, Query(description="Comma-separated: open, closed")] = None,
) -> Response:
    async def work() -> tuple[str, Any]:
        check_jurisdiction(jurisdiction_id, _jurisdiction(request))
        params = {"service_request_id": service_request_id or [], "service_code": service_code or [],
                  "status": status or [], "start_date": [start_date] if start_date else [],
                  "end_date": [end_date] if end_date else []}
        query = parse_query(params, datetime.now(timezone.utc))
        petitions = await request.app.state.feedback.find(**query.arguments())
        return "service_requests", request_list(petitions)

    return await _open311(format, work)


@router.get(PREFIX + "/requests/{service_request_id}.{format}", response_class=Response, responses=_RESPONSES,
            summary="Open311: one petition, as the public may see it")
async def one_request(request: Request, service_request_id: str, format: Format,
                      jurisdiction_id: Jurisdiction = None) -> Response:
    async def work() -> tuple[str, Any]:
        check_jurisdiction(jurisdiction_id, _jurisdiction(request))
        petition = await request.app.state.feedback.get(service_request_id.strip())
        return "service_requests", request_list([petition])

    return await _open311(format, work)


_FORM_FIELDS = {name: {"type": "string"} for name in (
    "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email", "device_id",
    "account_id", "first_name", "last_name", "phone", "description", "media_url")}
_FORM_FIELDS.update({f"attribute[{code}]": {"type": "string"} for code in ("dossier_code", "procedure_code",
                                                                          "agency_code")})
_FORM = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["service_code", "description"], "properties": _FORM_FIELDS}}}}}


@router.post(PREFIX + "/requests.{format}", response_class=Response, responses=_RESPONSES, openapi_extra=_FORM,
             summary="Open311: send a petition (public, form-encoded)",
             description="`description` is the petition (at least 10 characters; its first words are the "
                         "title); `last_name` + `first_name` the sender (confidential), `email`/`phone` how to "
                         "reach them; `attribute[dossier_code|procedure_code|agency_code]` optional.")
async def create_request(request: Request, format: Format) -> Response:
    async def work() -> tuple[str, Any]:
        draft = submission_of(await _form(request), jurisdiction=_jurisdiction(request))
        petition = await request.app.state.feedback.submit(draft, channel="open311")
        return "service_requests", submitted(petition)

    return await _open311(format, work)


async def _form(request: Request) -> list[tuple[str, str]]:
    """The form's pairs in order, then the query string's (some clients put api_key or jurisdiction_id there)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    pairs: list[tuple[str, str]]
    if media in ("", "application/x-www-form-urlencoded"):
        try:
            # The spec: everything a client sends is UTF-8.
            pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True,
                              max_num_fields=MAX_FIELDS, errors="strict")
        except ValueError:  # UnicodeDecodeError included
            raise Open311Error(400, invalid("request", "nội dung biểu mẫu không hợp lệ (UTF-8, tối đa "
                                            f"{MAX_FIELDS} trường)", f"malformed form (UTF-8, at most {MAX_FIELDS} "
                                            "fields)")) from None
    elif media == "multipart/form-data" and find_spec("python_multipart") is not None:
        try:
            form = await request.form(max_fields=MAX_FIELDS)
        except Exception:  # starlette's MultiPartException and the parser's own errors
            raise Open311Error(400, invalid("request", "biểu mẫu multipart không hợp lệ",
                                            "malformed multipart form")) from None
        pairs = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]  # files ignored
    else:
        raise Open311Error(415, invalid("Content-Type", "dùng application/x-www-form-urlencoded",
                                        "use application/x-www-form-urlencoded"))
    return pairs + list(request.query_params.multi_items())


@router.api_route(PREFIX + "/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def elsewhere(rest: str) -> Response:
    """Anything else under /open311/v2/ (tokens: this service is realtime and issues none)."""
    fmt = "json" if rest.lower().endswith(".json") else "xml"
    error = Open311Error(404, invalid(rest or "/", "không có tài nguyên Open311 này", "no such Open311 resource"))
    return _response(fmt, "errors", error.body(), error.status)
