"""The citizen's and the officer's web pages: server-rendered HTML (Jinja2) over the services' API,
called in process through the gateway's proxy with the signed-in person's token (HttpOnly cookie).

Citizen: home, procedure search and detail, online filing with its receipt, lookup by code and
security code (also the receipt's QR link, `/tra-cuu?ma=…&security_code=…`), service centres.
Officer: work queues, a dossier with the actions the role may take, the receipt PDF.
Demo sign-in (development issuer only). State-changing forms carry a CSRF token (double submit)."""

import json
import re
import secrets
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from kit.problems import NotFound

from gateway.identity import DEMO_USERS, DevIssuer, Principal, TokenVerifier
from gateway.proxy import Proxy
from gateway.settings import GatewaySettings
from gateway.web import i18n
from gateway.web.client import TOKEN_COOKIE, Answer, Api, multipart

HERE = Path(__file__).parent
STATIC = HERE / "static"
LANG_COOKIE = "motcua_lang"
CSRF_COOKIE = "motcua_csrf"
QUEUES = ("intake", "mine", "agency", "nearing", "overdue")
OFFICER_ROLES = {"reception_officer", "specialist", "leader"}
CITIZEN, RECEPTION, SPECIALIST, LEADER = "citizen", "reception_officer", "specialist", "leader"

# Who may take each action (mirrors the dossier service's RULES, which stays the authority: a
# refused action is answered 403 and shown as a message). Hides buttons a role cannot use.
ACTION_ROLES: dict[str, set[str]] = {
    "request_intake_supplement": {RECEPTION}, "refuse_intake": {RECEPTION}, "receive": {RECEPTION},
    "resubmit": {CITIZEN, RECEPTION}, "transfer": {RECEPTION, LEADER}, "assign": {LEADER},
    "appraise": {SPECIALIST}, "approve": {LEADER}, "request_fees": {SPECIALIST, LEADER},
    "record_fees_paid": {RECEPTION}, "request_supplement": {SPECIALIST, LEADER},
    "refuse": {LEADER}, "extend": {LEADER}, "request_withdrawal": {CITIZEN, RECEPTION},
    "confirm_withdrawal": {RECEPTION, LEADER}, "cancel_withdrawal": {CITIZEN, RECEPTION},
    "resolve": {LEADER}, "return_result": {RECEPTION},
}
# The fields each action's form asks for: (name, kind, required). Kinds: text, textarea, number,
# date, agency (a list of agencies), and choices "select:a|b|c".
ACTION_FIELDS: dict[str, list[tuple[str, str, bool]]] = {
    "receive": [], "record_fees_paid": [], "resubmit": [],
    "request_intake_supplement": [("reason", "textarea", True)],
    "refuse_intake": [("reason", "textarea", True)],
    "transfer": [("to_agency", "agency", True), ("step_working_days", "number", False), ("reason", "textarea", False)],
    "assign": [("specialist", "text", True)],
    "appraise": [("proposal", "select:approve|refuse", True), ("reason", "textarea", True)],
    "approve": [("reason", "textarea", False)],
    "request_fees": [("amount", "number", True), ("description", "text", True)],
    "request_supplement": [("reason", "textarea", True), ("items", "textarea", True)],
    "refuse": [("reason", "textarea", True)],
    "extend": [("reason", "textarea", True), ("new_due_on", "date", True)],
    "request_withdrawal": [("reason", "textarea", True)],
    "confirm_withdrawal": [("reason", "textarea", False)],
    "cancel_withdrawal": [("reason", "textarea", False)],
    "resolve": [("result_number", "text", False)],
    "return_result": [("method", "select:counter|post|online", False)],
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined)
    env.filters["local_time"] = i18n.local_time
    env.filters["local_date"] = lambda v: i18n.local_time(v, with_time=False)
    env.filters["money"] = i18n.money
    env.filters["urlquote"] = lambda v: quote(str(v), safe="")
    return env


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in i18n.LANGS:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    return cookie if cookie in i18n.LANGS else "vi"


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site (never //host or a scheme), so sign-in cannot redirect elsewhere."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def idempotency_key(form) -> str:
    """The form's Idempotency-Key (set once per page by app.js), or a new one: 8-128 of [A-Za-z0-9_-]."""
    given = str(form.get("idempotency_key") or "")
    return given if re.fullmatch(r"[A-Za-z0-9_-]{8,128}", given) else secrets.token_hex(16)


def is_officer(user: Principal | None) -> bool:
    return user is not None and bool(OFFICER_ROLES & set(user.roles))


def create_router(*, settings: GatewaySettings, proxy: Proxy, verifier: TokenVerifier,
                  dev: DevIssuer | None) -> APIRouter:
    env = _environment()
    api = Api(proxy, verifier)
    router = APIRouter(include_in_schema=False)
    secure = settings.public_url.startswith("https://")
    agencies_cache: dict[str, dict] = {}

    def cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")

    async def render(request: Request, template: str, *, status: int = 200, **context) -> HTMLResponse:
        lang = lang_of(request)
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        user = await api.principal(request)
        params = dict(request.query_params)
        params["lang"] = "en" if lang == "vi" else "vi"
        html = env.get_template(template).render(
            t=lambda key, **values: i18n.text(key, lang, **values), lang=lang, user=user, csrf=csrf,
            officer=is_officer(user), dev=dev is not None, path=request.url.path,
            switch_url=f"{request.url.path}?{urlencode(params)}",
            role_label=lambda role: i18n.text(f"role_{role}", lang),
            action_label=lambda action: i18n.action_label(action, lang),
            state_label=lambda state: i18n.state_label(state, lang),
            pick=lambda vi, en: en if lang == "en" and en else vi, **context)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'")
        if CSRF_COOKIE not in request.cookies:
            cookie(response, CSRF_COOKIE, csrf)
        if request.query_params.get("lang") in i18n.LANGS and request.cookies.get(LANG_COOKIE) != lang:
            cookie(response, LANG_COOKIE, lang, max_age=365 * 86400)
        return response

    def status_of(answer: Answer) -> int:
        """A page's status from its API call: 200, or the API's error (502 for anything unexpected)."""
        return 200 if answer.ok else answer.status if 400 <= answer.status < 600 else 502

    def errors_of(request: Request, answer: Answer) -> list[str]:
        return i18n.problem_message(answer.problem, answer.status, lang_of(request))

    async def csrf_ok(request: Request, form) -> bool:
        given, expected = str(form.get("csrf") or ""), request.cookies.get(CSRF_COOKIE) or ""
        return bool(given) and bool(expected) and secrets.compare_digest(given, expected)

    async def refuse_csrf(request: Request) -> HTMLResponse:
        return await render(request, "message.html", status=403, title=i18n.text("error_title", lang_of(request)),
                            errors=[i18n.text("csrf", lang_of(request))])

    def to_sign_in(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/dang-nhap?next={quote(target, safe='')}", status_code=303)

    async def agencies(request: Request) -> dict[str, dict]:
        if not agencies_cache:
            answer = await api.call(request, "GET", "/agencies")
            if answer.ok and isinstance(answer.json(), list):
                agencies_cache.update({a["code"]: a for a in answer.json()})
        return agencies_cache

    # -- static files (no CDN: everything is served from here) -----------------------------------

    @router.get("/static/{name}")
    async def static(name: str) -> FileResponse:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise NotFound("File", name)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    # -- citizen -----------------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return await render(request, "home.html", signed_out=bool(request.query_params.get("signed_out")))

    @router.get("/thu-tuc", response_class=HTMLResponse)
    async def procedures(request: Request, q: str = "", cursor: str | None = None) -> HTMLResponse:
        answer = await api.call(request, "GET", "/procedures", params={"q": q[:200], "limit": 20, "cursor": cursor})
        page = answer.json() if answer.ok else {}
        return await render(request, "procedures.html", q=q, page=page, status=status_of(answer),
                            errors=[] if answer.ok else errors_of(request, answer))

    @router.get("/thu-tuc/{code}", response_class=HTMLResponse)
    async def procedure(request: Request, code: str) -> HTMLResponse:
        answer = await api.call(request, "GET", f"/procedures/{quote(code, safe='')}")
        if not answer.ok:
            lang = lang_of(request)
            errors = ([i18n.text("procedure_not_found", lang, code=code)] if answer.status == 404
                      else errors_of(request, answer))
            return await render(request, "message.html", status=answer.status if answer.status >= 400 else 502,
                                title=i18n.text("procedures", lang), errors=errors)
        return await render(request, "procedure.html", p=answer.json(),
                            agency=(await agencies(request)).get(answer.json().get("agency_code"), {}))

    @router.get("/tra-cuu", response_class=HTMLResponse)
    async def lookup(request: Request, ma: str = "", security_code: str = "") -> HTMLResponse:
        ma, security_code = ma.strip(), security_code.strip()
        dossier, errors, status = None, [], 200
        if ma and security_code:
            answer = await api.call(request, "GET", f"/lookup/{quote(ma, safe='')}",
                                    params={"security_code": security_code})
            if answer.ok:
                dossier = answer.json()
            elif answer.status in (404, 422):
                errors, status = [i18n.text("not_found_dossier", lang_of(request))], 404
            else:
                errors, status = errors_of(request, answer), answer.status
        return await render(request, "lookup.html", status=status, ma=ma, security_code=security_code,
                            dossier=dossier, errors=errors)

    @router.get("/trung-tam", response_class=HTMLResponse)
    async def centres(request: Request) -> HTMLResponse:
        answer = await api.call(request, "GET", "/centres")
        return await render(request, "centres.html", centres=answer.json() if answer.ok else [],
                            status=status_of(answer),
                            errors=[] if answer.ok else errors_of(request, answer))

    # -- sign-in (development issuer only) -------------------------------------------------------

    @router.get("/dang-nhap", response_class=HTMLResponse)
    async def sign_in_page(request: Request, next: str = "") -> HTMLResponse:
        return await render(request, "sign_in.html", users=DEMO_USERS if dev else [], next=safe_next(next, ""),
                            status=200 if dev else 404)

    @router.post("/dang-nhap")
    async def sign_in(request: Request) -> Response:
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        user = next((u for u in DEMO_USERS if u.username == form.get("username")), None)
        if dev is None or user is None:
            return await render(request, "sign_in.html", status=404 if dev is None else 422,
                                users=DEMO_USERS if dev else [], next="",
                                errors=[i18n.text("sign_in_unavailable", lang_of(request))])
        default = "/can-bo" if OFFICER_ROLES & set(user.roles) else "/"
        response = RedirectResponse(safe_next(str(form.get("next") or ""), default), status_code=303)
        cookie(response, TOKEN_COOKIE, dev.token_for(user), max_age=settings.token_ttl_seconds)
        return response

    @router.post("/dang-xuat")
    async def sign_out(request: Request) -> Response:
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        response = RedirectResponse("/?signed_out=1", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
        return response

    # -- online filing and the receipt -------------------------------------------------------------

    async def filing_page(request: Request, code: str, *, values: dict, errors: list[str], status: int = 200):
        answer = await api.call(request, "GET", f"/procedures/{quote(code, safe='')}")
        if not answer.ok:
            return await render(request, "message.html", status=404, title=i18n.text("procedures", lang_of(request)),
                                errors=[i18n.text("procedure_not_found", lang_of(request), code=code)])
        return await render(request, "submit.html", status=status, p=answer.json(), values=values, errors=errors)

    @router.get("/nop-ho-so/{code}", response_class=HTMLResponse)
    async def filing_form(request: Request, code: str) -> Response:
        user = await api.principal(request)
        if user is None:
            return to_sign_in(request)
        return await filing_page(request, code, values={"name": user.name or ""}, errors=[])

    @router.post("/nop-ho-so/{code}", response_class=HTMLResponse)
    async def file_online(request: Request, code: str) -> Response:
        if await api.principal(request) is None:
            return to_sign_in(request)
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        values = {k: str(form.get(k) or "").strip()
                  for k in ("name", "id_number", "phone", "email", "address", "result_channel", "case_code")}
        documents, files, names = [], [], set()
        for key in form.keys():
            if not key.startswith("doc_"):
                continue
            listed = []
            for upload in form.getlist(key):
                if not isinstance(upload, UploadFile) or not upload.filename:
                    continue
                name = upload.filename
                while name in names:  # the API matches files to documents by name: keep each name unique
                    name = f"{len(names)}-{name}"
                names.add(name)
                listed.append(name)
                files.append(("files", name, upload.content_type or "application/octet-stream", await upload.read()))
            if listed:
                documents.append({"code": key[4:], "files": listed})
        applicant = {k: values[k] for k in ("name", "id_number", "phone", "email", "address") if values[k]}
        submission = {"procedure_code": code, "applicant": applicant, "documents": documents,
                      "result_channel": values["result_channel"] or "online"}
        if values["case_code"]:
            submission["case_code"] = values["case_code"]
        body, content_type = multipart({"submission": json.dumps(submission, ensure_ascii=False)}, files)
        key = idempotency_key(form)
        answer = await api.call(request, "POST", "/dossiers", body=body, content_type=content_type,
                                headers={"Idempotency-Key": key})
        if answer.status in (200, 201):
            return await render(request, "receipt.html", status=201, r=answer.json())
        if answer.status == 401:
            return to_sign_in(request)
        errors = errors_of(request, answer)
        if files:
            errors.append(i18n.text("files_again", lang_of(request)))
        return await filing_page(request, code, values=values, errors=errors,
                                 status=answer.status if 400 <= answer.status < 500 else 502)

    @router.post("/bien-nhan")
    async def receipt_pdf(request: Request) -> Response:
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        code, security_code = str(form.get("ma") or "").strip(), str(form.get("security_code") or "").strip()
        answer = await api.call(request, "POST", f"/dossiers/{quote(code, safe='')}/receipt",
                                json_body={"security_code": security_code})
        if answer.ok:
            return Response(answer.content, media_type="application/pdf",
                            headers={"Content-Disposition": f'inline; filename="bien-nhan-{quote(code)}.pdf"',
                                     "Cache-Control": "no-store"})
        errors = ([i18n.text("not_found_dossier", lang_of(request))] if answer.status in (404, 422)
                  else errors_of(request, answer))
        return await render(request, "message.html", status=answer.status,
                            title=i18n.text("receipt", lang_of(request)), errors=errors)

    # -- officer -------------------------------------------------------------------------------------

    @router.get("/can-bo", response_class=HTMLResponse)
    async def work_queue(request: Request, hang: str = "", cursor: str | None = None) -> Response:
        user = await api.principal(request)
        if user is None:
            return to_sign_in(request)
        if not is_officer(user):
            return await render(request, "message.html", status=403, title=i18n.text("work_queue", lang_of(request)),
                                errors=[i18n.text("officers_only", lang_of(request))])
        if hang not in QUEUES:
            hang = ("intake" if RECEPTION in user.roles else "agency" if LEADER in user.roles else "mine")
        answer = await api.call(request, "GET", f"/queues/{hang}", params={"cursor": cursor, "limit": 50})
        return await render(request, "queue.html", queue=hang, queues=QUEUES, page=answer.json() if answer.ok else {},
                            status=status_of(answer),
                            errors=[] if answer.ok else errors_of(request, answer))

    async def dossier_page(request: Request, code: str, *, values: dict | None = None, errors: list[str] = (),
                           failed: str = "", status: int = 200) -> Response:
        user = await api.principal(request)
        if user is None:
            return to_sign_in(request)
        if not is_officer(user):
            return await render(request, "message.html", status=403, title=i18n.text("work_queue", lang_of(request)),
                                errors=[i18n.text("officers_only", lang_of(request))])
        answer = await api.call(request, "GET", f"/dossiers/{quote(code, safe='')}")
        if not answer.ok:
            return await render(request, "message.html", status=answer.status,
                                title=i18n.text("dossier_code", lang_of(request)) + " " + code,
                                errors=errors_of(request, answer))
        d = answer.json()
        mine = set(user.roles)
        actions = [(a, ACTION_FIELDS.get(a, [("reason", "textarea", False)])) for a in d.get("allowed_actions", [])
                   if a in ACTION_FIELDS and mine & ACTION_ROLES.get(a, set())]
        return await render(request, "dossier.html", status=status, d=d, actions=actions, values=values or {},
                            errors=list(errors), failed=failed, done=request.query_params.get("done", ""),
                            agencies=sorted((await agencies(request)).values(), key=lambda a: a["code"]))

    @router.get("/can-bo/ho-so/{code}", response_class=HTMLResponse)
    async def dossier(request: Request, code: str) -> Response:
        return await dossier_page(request, code)

    @router.post("/can-bo/ho-so/{code}/{action}", response_class=HTMLResponse)
    async def act(request: Request, code: str, action: str) -> Response:
        if await api.principal(request) is None:
            return to_sign_in(request)
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        if action not in ACTION_FIELDS:
            raise NotFound("Action", action)
        values = {name: str(form.get(name) or "").strip() for name, _, _ in ACTION_FIELDS[action]}
        body: dict = {}
        for name, kind, _ in ACTION_FIELDS[action]:
            value = values[name]
            if not value:
                continue
            if name == "items":
                body[name] = [{"name": line.strip()} for line in value.splitlines() if line.strip()]
            elif kind == "number":
                try:
                    body[name] = float(value) if name == "step_working_days" else int(value.replace(".", ""))
                except ValueError:
                    body[name] = value  # the service names the field in its answer
            else:
                body[name] = value
        path = f"/dossiers/{quote(code, safe='')}/{action.replace('_', '-')}"
        answer = await api.call(request, "POST", path, json_body=body if ACTION_FIELDS[action] else None)
        if answer.ok:
            return RedirectResponse(f"/can-bo/ho-so/{quote(code, safe='')}?done={action}", status_code=303)
        return await dossier_page(request, code, values=values, errors=errors_of(request, answer), failed=action,
                                  status=answer.status if 400 <= answer.status < 500 else 502)

    # -- feedback: petitions (PAKN), public answers, ratings -----------------------------------------

    async def petition_page(request: Request, *, values: dict, errors: list[str], status: int = 200,
                            petition: dict | None = None) -> HTMLResponse:
        return await render(request, "petition.html", status=status, values=values, errors=errors,
                            petition=petition)

    @router.get("/phan-anh-kien-nghi", response_class=HTMLResponse)
    async def petition_form(request: Request, ma: str = "") -> Response:
        """The form; with ?ma=<id> (the notification's link) the sender's petition, once signed in."""
        user = await api.principal(request)
        if ma:
            if user is None:
                return to_sign_in(request)
            answer = await api.call(request, "GET", f"/petitions/{quote(ma, safe='')}")
            if not answer.ok:
                return await petition_page(request, values={}, errors=errors_of(request, answer),
                                           status=answer.status)
            return await petition_page(request, values={}, errors=[], petition=answer.json())
        return await petition_page(request, values={"name": user.name if user else ""}, errors=[])

    @router.post("/phan-anh-kien-nghi", response_class=HTMLResponse)
    async def send_petition(request: Request) -> Response:
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        values = {k: str(form.get(k) or "").strip()
                  for k in ("category", "title", "content", "dossier_code", "name", "phone", "email")}
        submitter = {k: values[k] for k in ("name", "phone", "email") if values[k]}
        draft = {"category": values["category"] or "procedure", "title": values["title"],
                 "content": values["content"], "submitter": submitter}
        if values["dossier_code"]:
            draft["dossier_code"] = values["dossier_code"]
        answer = await api.call(request, "POST", "/petitions", json_body=draft)
        if answer.status == 201:
            return await render(request, "petition_sent.html", status=201, r=answer.json())
        return await petition_page(request, values=values, errors=errors_of(request, answer),
                                   status=answer.status if 400 <= answer.status < 500 else 502)

    @router.get("/hoi-dap", response_class=HTMLResponse)
    async def public_answers(request: Request, q: str = "", offset: int = 0) -> HTMLResponse:
        offset = max(0, min(offset, 10_000))
        answer = await api.call(request, "GET", "/petitions/published",
                                params={"q": q[:200], "limit": 20, "offset": offset})
        return await render(request, "answers.html", q=q, offset=offset, page=answer.json() if answer.ok else {},
                            status=status_of(answer),
                            errors=[] if answer.ok else errors_of(request, answer))

    @router.get("/danh-gia", response_class=HTMLResponse)
    async def rating_form(request: Request, t: str = "") -> HTMLResponse:
        return await rating_page(request, t, values={}, errors=[])

    async def rating_page(request: Request, token: str, *, values: dict, errors: list[str], status: int = 200,
                          rated: dict | None = None) -> HTMLResponse:
        lang = lang_of(request)
        answer = await api.call(request, "GET", f"/ratings/invitations/{quote(token or '-', safe='')}")
        if not answer.ok:
            invalid = ("Liên kết đánh giá không hợp lệ hoặc đã hết hạn.",
                       "This rating link is not valid or has expired.")
            return await render(request, "message.html", status=404 if answer.status in (404, 422) else answer.status,
                                title=i18n.text("rate_title", lang),
                                errors=[i18n.pick(invalid, lang)] if answer.status in (404, 422)
                                else errors_of(request, answer))
        return await render(request, "rating.html", status=status, inv=answer.json(), token=token, values=values,
                            errors=errors, rated=rated)

    @router.post("/danh-gia", response_class=HTMLResponse)
    async def rate(request: Request, t: str = "") -> Response:
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        values = {"score": str(form.get("score") or ""), "reasons": [str(r) for r in form.getlist("reasons")],
                  "comment": str(form.get("comment") or "").strip()}
        try:
            body: dict = {"score": int(values["score"]), "reasons": values["reasons"]}
        except ValueError:
            return await rating_page(request, t, values=values, status=422,
                                     errors=[i18n.text("choose_score", lang_of(request))])
        if values["comment"]:
            body["comment"] = values["comment"]
        answer = await api.call(request, "POST", f"/ratings/invitations/{quote(t or '-', safe='')}", json_body=body)
        if answer.status == 201:
            return await rating_page(request, t, values={}, errors=[], status=201, rated=answer.json())
        return await rating_page(request, t, values=values, errors=errors_of(request, answer),
                                 status=answer.status if 400 <= answer.status < 500 else 502)

    # -- fees: pay online through the provider's page (the sandbox in development) ------------------

    @router.get("/thanh-toan", response_class=HTMLResponse)
    async def fees(request: Request, khoan: str = "", ma: str = "", security_code: str = "") -> Response:
        """The fee items of a dossier (code and security code), each payable online. ?khoan=<item> is
        the notification's link: the item id starts with the dossier code."""
        if await api.principal(request) is None:
            return to_sign_in(request)
        code = (ma or khoan.rsplit("/", 1)[0]).strip()
        security_code = security_code.strip()
        bill, errors, status = None, [], 200
        if code and security_code:
            answer = await api.call(request, "GET", f"/payments/dossiers/{quote(code, safe='')}",
                                    params={"security_code": security_code})
            if answer.ok:
                bill = answer.json()
            elif answer.status in (404, 422):
                errors, status = [i18n.text("not_found_dossier", lang_of(request))], 404
            else:
                errors, status = errors_of(request, answer), status_of(answer)
        return await render(request, "fees.html", status=status, ma=code, security_code=security_code,
                            bill=bill, errors=errors)

    @router.post("/thanh-toan", response_class=HTMLResponse)
    async def pay(request: Request) -> Response:
        if await api.principal(request) is None:
            return to_sign_in(request)
        form = await request.form()
        if not await csrf_ok(request, form):
            return await refuse_csrf(request)
        item, security_code = str(form.get("item_id") or ""), str(form.get("security_code") or "")
        answer = await api.call(request, "POST", "/payments",
                                json_body={"item_id": item, "security_code": security_code, "method": "vnpay"},
                                headers={"Idempotency-Key": idempotency_key(form)})
        checkout = (answer.json() or {}).get("checkout_url") if answer.ok else None
        if checkout and re.match(r"^https?://", checkout):
            # A page with the way on, not a redirect: the provider is another site, and the person should
            # see where they are going.
            return await render(request, "pay.html", payment=answer.json(), checkout=checkout)
        return await render(request, "fees.html", status=status_of(answer) if not answer.ok else 502,
                            ma=item.rsplit("/", 1)[0], security_code=security_code, bill=None,
                            errors=errors_of(request, answer))

    @router.get("/thanh-toan/ket-qua", response_class=HTMLResponse)
    async def paid(request: Request) -> HTMLResponse:
        """Where the provider sends the person back (payment service setting MOTCUA_RETURN_URL): the
        payment service checks the signature and answers with our own record of the payment."""
        answer = await api.call(request, "GET", "/payments/providers/vnpay/return",
                                params=dict(request.query_params))
        return await render(request, "paid.html", status=status_of(answer), result=answer.json() if answer.ok else None,
                            errors=[] if answer.ok else errors_of(request, answer))

    return router
