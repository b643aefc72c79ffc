"""The role matrix: every route of the public API and the roles that may call it, in one table.

Read off every service's router (the `caller.require(...)` calls, and the role rules of the dossier and
petition lifecycles, one row per action). The gateway answers from it before forwarding: 404 for a route
not in the table, 403 when the verified roles do not meet the row's. The services keep their own checks
(defence in depth), and agency scope and ownership stay with them: a row says who may call a route at all.
The public routes (routes.is_public) are the rows marked PUBLIC. gateway/tests/test_role_matrix.py tries
every row with every role, and checks a sample of rows against the real services.

A path is the service's path (after /api/v1), `{name}` standing for one segment (or the part of one, as
in `services.{format}`), `{name:path}` for the rest of the path. The first row that matches wins, so a
fixed segment comes before a placeholder in the same place (as in the services' routers)."""

import re
from dataclasses import dataclass, field

from kit.problems import NotFound, Problem

CITIZEN, RECEPTION, SPECIALIST, LEADER = "citizen", "reception_officer", "specialist", "leader"
CASHIER, CATALOG_ADMIN, FEEDBACK_OFFICER, ADMIN = "cashier", "catalog_admin", "feedback_officer", "admin"
ROLES = (CITIZEN, RECEPTION, SPECIALIST, LEADER, CASHIER, CATALOG_ADMIN, FEEDBACK_OFFICER, ADMIN)

PUBLIC = frozenset({"*"})  # anyone, with or without a token

# Role groups, named as in the services that check them.
CATALOG_ADMINS = {CATALOG_ADMIN, ADMIN}                                   # catalog.api.ADMINS
DOSSIER_OFFICERS = {RECEPTION, SPECIALIST, LEADER, ADMIN}                 # dossier.api.OFFICERS
DOWNLOADERS = {RECEPTION, SPECIALIST, LEADER}                             # dossier.api_intake.DOWNLOADERS
QUEUE_ROLES = {RECEPTION, SPECIALIST, LEADER}                             # dossier.queues.QUEUE_ROLES
REPORT_ROLES = {LEADER, ADMIN}                                            # dossier.api_reports.REPORT_ROLES
PAYMENT_STAFF = {CASHIER, RECEPTION, ADMIN}                               # payment.handlers.STAFF
MONEY_STAFF = {CASHIER, ADMIN}                                            # payment.handlers.MONEY_STAFF
MESSAGE_OFFICERS = {RECEPTION, LEADER, ADMIN}                             # notification.api.OFFICERS
LIBRARY_READERS = {ADMIN, RECEPTION, LEADER}                              # notification.api_library.READERS
CENTRE = {FEEDBACK_OFFICER, ADMIN}                                        # feedback.petitions.CENTRE
AGENCY_STAFF = {LEADER, SPECIALIST}                                       # feedback.petitions.AGENCY_STAFF
SUMMARY_ROLES = {LEADER, ADMIN, FEEDBACK_OFFICER}                         # feedback.ratings.SUMMARY_ROLES

# dossier.domain.RULES: who may take each lifecycle action (POST /dossiers/{code}/<action>). The service
# also checks the citizen's ownership and the agency of a specialist or leader.
DOSSIER_ACTIONS = {
    "request-intake-supplement": {RECEPTION},
    "resubmit": {CITIZEN, RECEPTION},
    "refuse-intake": {RECEPTION},
    "receive": {RECEPTION},
    "transfer": {RECEPTION, LEADER},
    "assign": {LEADER},
    "appraise": {SPECIALIST},
    "approve": {LEADER},
    "request-fees": {SPECIALIST, LEADER},
    "record-fees-paid": {RECEPTION},  # and the system itself, on a payment event
    "request-supplement": {SPECIALIST, LEADER},
    "provide-supplement": {CITIZEN, RECEPTION},
    "refuse": {LEADER},
    "extend": {LEADER},
    "request-withdrawal": {CITIZEN, RECEPTION},
    "confirm-withdrawal": {RECEPTION, LEADER},
    "cancel-withdrawal": {CITIZEN, RECEPTION},
    "resolve": {LEADER},
    "return-result": {RECEPTION},
}

# feedback.petitions.RULES: each step of a petition (POST /petitions/{petition_id}/<action>). The service
# also checks the citizen's ownership and the agency the petition is assigned to.
PETITION_ACTIONS = {
    "accept": CENTRE,
    "reject": CENTRE,
    "request-information": CENTRE,
    "provide-information": CENTRE | {CITIZEN},
    "assign": CENTRE,
    "transfer": CENTRE | {LEADER},
    "escalate": CENTRE | {LEADER},
    "answer": CENTRE | AGENCY_STAFF,
    "publish": CENTRE,
    "moderate": CENTRE,
}

# Who may possibly see a petition (feedback.api.view): the centre, its citizen owner, the staff of the
# agency it is assigned to. The service answers 404 to anyone else, whatever their role.
PETITION_READERS = CENTRE | AGENCY_STAFF | {CITIZEN}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    roles: frozenset[str]
    note: str = ""
    pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.roles != PUBLIC and not self.roles <= set(ROLES):
            raise ValueError(f"{self.method} {self.path}: unknown roles {sorted(self.roles - set(ROLES))}")
        object.__setattr__(self, "pattern", _compile(self.path))

    @property
    def public(self) -> bool:
        return self.roles == PUBLIC

    def allows(self, roles) -> bool:
        return self.public or bool(self.roles.intersection(roles))

    def matches(self, method: str, path: str) -> bool:
        return self.method == method and self.pattern.fullmatch(path) is not None


def _compile(path: str) -> re.Pattern:
    out, at = [], 0
    for m in re.finditer(r"\{(\w+)(:path)?\}", path):
        out += [re.escape(path[at:m.start()]), ".+" if m.group(2) else "[^/]+"]
        at = m.end()
    out.append(re.escape(path[at:]))
    return re.compile("".join(out) + r"\Z")  # anchored: pattern.match() is a whole-path match too


def _rows(*rows) -> tuple[Route, ...]:
    return tuple(Route(method, path, frozenset(roles), *rest) for method, path, roles, *rest in rows)


ROUTES: tuple[Route, ...] = _rows(
    # --- catalog: public reads, administered by the catalogue administrators -------------------------
    ("GET", "/procedures", PUBLIC),
    ("GET", "/procedures/{code}", PUBLIC),
    ("GET", "/procedures/{code}/versions", CATALOG_ADMINS),
    ("POST", "/procedures", CATALOG_ADMINS),
    ("PUT", "/procedures/{code}", CATALOG_ADMINS),
    ("POST", "/procedures/{code}/publish", CATALOG_ADMINS),
    ("POST", "/procedures/{code}/withdraw", CATALOG_ADMINS),
    ("GET", "/fields", PUBLIC),
    ("GET", "/agencies", PUBLIC),
    ("GET", "/centres", PUBLIC),
    ("GET", "/centres/{code}", PUBLIC),
    ("POST", "/forms", CATALOG_ADMINS),
    ("GET", "/forms", PUBLIC),
    ("GET", "/forms/{code}", PUBLIC),
    ("GET", "/forms/{code}/file", PUBLIC),

    # --- dossier: intake, processing, work queues, reports, the business calendar ---------------------
    ("POST", "/dossiers", {CITIZEN}, "online submission"),
    ("POST", "/dossiers/counter", {RECEPTION}, "intake at the counter"),
    ("GET", "/dossiers/{code}", DOSSIER_OFFICERS),
    ("POST", "/dossiers/{code}/receipt", PUBLIC, "the security code is the credential"),
    ("GET", "/dossiers/{code}/attachments/{blob_id}", DOWNLOADERS),
    *(("POST", f"/dossiers/{{code}}/{action}", roles) for action, roles in DOSSIER_ACTIONS.items()),
    ("GET", "/queues/{queue}", QUEUE_ROLES),
    ("GET", "/indicators", REPORT_ROLES),
    ("GET", "/calendar", DOSSIER_OFFICERS),
    ("PUT", "/calendar", {ADMIN}),
    ("GET", "/calendar/due-date", DOSSIER_OFFICERS),

    # --- lookup: the public status read model ----------------------------------------------------------
    ("POST", "/lookup", PUBLIC),
    ("GET", "/lookup/{code}", PUBLIC, "the QR code's link"),

    # --- payment ---------------------------------------------------------------------------------------
    ("GET", "/payments/dossiers/{code}", {CITIZEN} | PAYMENT_STAFF, "a citizen shows the security code"),
    ("GET", "/payments/dossiers/{code}/ledger", MONEY_STAFF),
    ("POST", "/payments", {CITIZEN}),
    ("POST", "/payments/counter", {CASHIER}),
    # The provider calls (IPN) and sends the citizen's browser back (return) without our token: its
    # signature is the credential, checked by the payment service.
    ("GET", "/payments/providers/{provider}/ipn", PUBLIC, "the provider's signature is the credential"),
    ("GET", "/payments/providers/{provider}/return", PUBLIC, "the provider's signature is the credential"),
    ("GET", "/payments/{payment_id}", {CITIZEN} | PAYMENT_STAFF, "a citizen sees only their own"),
    # get_payment admits the staff; then anyone but the payer needs MONEY_STAFF (a reception officer
    # never pays, so never cancels).
    ("POST", "/payments/{payment_id}/cancel", {CITIZEN} | MONEY_STAFF, "a citizen cancels only their own"),
    ("POST", "/payments/{payment_id}/review", {ADMIN}),
    ("POST", "/payments/{payment_id}/refunds", MONEY_STAFF),
    ("POST", "/payments/{payment_id}/refunds/{number}/outcome", {ADMIN}),
    ("GET", "/payments/{payment_id}/receipt", {CITIZEN} | PAYMENT_STAFF, "a citizen sees only their own"),

    # --- notification: messages, preferences, rules and templates, webhooks ---------------------------
    ("GET", "/messages", MESSAGE_OFFICERS),
    ("GET", "/messages/mine", {CITIZEN}),
    ("GET", "/messages/agency", {LEADER, SPECIALIST, RECEPTION}),
    ("GET", "/messages/{message_id}", MESSAGE_OFFICERS),
    ("GET", "/notifications/preferences/me", {CITIZEN}),
    ("PATCH", "/notifications/preferences/me", {CITIZEN}),
    ("POST", "/notifications/sms/{provider}/reports", PUBLIC, "the provider's HMAC signature is the credential"),
    ("POST", "/notifications/test-messages", {ADMIN}),
    ("GET", "/notifications/placeholders", LIBRARY_READERS),
    ("GET", "/notifications/rules", LIBRARY_READERS),
    ("GET", "/notifications/rules/{event_type}", LIBRARY_READERS),
    ("PUT", "/notifications/rules/{event_type}", {ADMIN}),
    ("GET", "/notifications/templates", LIBRARY_READERS),
    ("GET", "/notifications/templates/{key}", LIBRARY_READERS),
    ("GET", "/notifications/templates/{key}/versions/{version}", LIBRARY_READERS),
    ("PUT", "/notifications/templates/{key}", {ADMIN}),
    ("POST", "/notifications/templates/{key}/preview", {ADMIN}),
    ("POST", "/webhooks/subscriptions", {ADMIN}),
    ("GET", "/webhooks/subscriptions", {ADMIN}),
    ("GET", "/webhooks/subscriptions/{subscription_id}", {ADMIN}),
    ("PATCH", "/webhooks/subscriptions/{subscription_id}", {ADMIN}),
    ("DELETE", "/webhooks/subscriptions/{subscription_id}", {ADMIN}),
    ("POST", "/webhooks/subscriptions/{subscription_id}/secret", {ADMIN}),
    ("GET", "/webhooks/subscriptions/{subscription_id}/deliveries", {ADMIN}),
    ("POST", "/webhooks/subscriptions/{subscription_id}/replay", {ADMIN}),
    ("GET", "/webhooks/deliveries/{delivery_id}", {ADMIN}),
    ("POST", "/webhooks/deliveries/{delivery_id}/replay", {ADMIN}),

    # --- feedback: petitions, ratings, Open311 -------------------------------------------------------
    ("POST", "/petitions", PUBLIC, "anyone may send a petition"),
    ("POST", "/petitions/recorded", CENTRE),
    ("GET", "/petitions/published", PUBLIC),
    ("GET", "/petitions/published/{petition_id}", PUBLIC),
    ("GET", "/petitions", CENTRE | AGENCY_STAFF),
    ("GET", "/petitions/{petition_id}", PETITION_READERS, "the service answers 404 to whoever may not see it"),
    ("GET", "/petitions/{petition_id}/attachments/{number}", PETITION_READERS),
    *(("POST", f"/petitions/{{petition_id}}/{action}", roles) for action, roles in PETITION_ACTIONS.items()),
    ("GET", "/ratings/invitations/{token}", PUBLIC, "the invitation's token is the credential"),
    ("POST", "/ratings/invitations/{token}", PUBLIC, "the invitation's token is the credential"),
    ("GET", "/ratings/summary", SUMMARY_ROLES),
    ("GET", "/open311/v2/services.{format}", PUBLIC),
    ("GET", "/open311/v2/services/{service_code}.{format}", PUBLIC),
    ("GET", "/open311/v2/requests.{format}", PUBLIC),
    ("GET", "/open311/v2/requests/{service_request_id}.{format}", PUBLIC),
    ("POST", "/open311/v2/requests.{format}", PUBLIC),
    # Any other Open311 read: the service answers an Open311 error document (in the format asked for).
    ("GET", "/open311/v2/{rest:path}", PUBLIC),
)


def route_for(method: str, path: str) -> Route | None:
    """The row of a request (HEAD is a GET), or None."""
    method = "GET" if method == "HEAD" else method
    return next((r for r in ROUTES if r.matches(method, path)), None)


def authorize(method: str, path: str, roles) -> Route:
    """The row that lets these verified roles call this route; else 404 (no such route) or 403."""
    route = route_for(method, path)
    if route is None:
        raise NotFound("Route", f"{method} {path}")
    if not route.allows(roles):
        allowed = sorted(route.roles)
        raise Problem(403, "forbidden-role", "Role not allowed",
                      f"{method} {path} needs one of the roles: {', '.join(allowed)}.", required_roles=allowed)
    return route
