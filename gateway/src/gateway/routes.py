"""Which upstream serves a path, and which routes are public. One table each, tested route by route."""

import re

# First segment of the path after /api/v1 → upstream.
UPSTREAM_BY_SEGMENT = {
    "procedures": "catalog", "fields": "catalog", "agencies": "catalog", "centres": "catalog", "forms": "catalog",
    "dossiers": "dossier", "queues": "dossier", "indicators": "dossier", "calendar": "dossier",
    "lookup": "lookup",
    "payments": "payment",
    "messages": "notification", "notifications": "notification", "webhooks": "notification",
    "petitions": "feedback", "ratings": "feedback", "open311": "feedback",
}

# Routes anyone may call without a token (DESIGN.md: catalogue, status lookup, feedback submission).
PUBLIC_ROUTES = [
    ("GET", re.compile(r"^/(procedures|fields|agencies|centres|forms)(/.*)?$")),
    ("POST", re.compile(r"^/lookup$")),
    ("GET", re.compile(r"^/lookup/[^/]+$")),
    ("POST", re.compile(r"^/dossiers/[^/]+/receipt$")),  # the security code is the credential
    ("POST", re.compile(r"^/petitions$")),
    # Public questions and answers; a rating invitation's link (its token is the credential); Open311 clients.
    ("GET", re.compile(r"^/petitions/published(/[^/]+)?$")),
    ("GET", re.compile(r"^/ratings/invitations/[^/]+$")),
    ("POST", re.compile(r"^/ratings/invitations/[^/]+$")),
    ("GET", re.compile(r"^/open311/v2/.+$")),
    ("POST", re.compile(r"^/open311/v2/requests\.(json|xml)$")),
    # The payment provider calls (IPN) and sends the citizen's browser back (return) without our token:
    # the provider's signature is the credential, checked by the payment service.
    ("GET", re.compile(r"^/payments/providers/[a-z]+/(ipn|return)$")),
    # SMS providers post delivery reports; their HMAC signature is the credential, checked by the service.
    ("POST", re.compile(r"^/notifications/sms/[A-Za-z0-9_-]+/reports$")),
]


def upstream_for(path: str) -> str | None:
    segment = path.lstrip("/").split("/", 1)[0]
    return UPSTREAM_BY_SEGMENT.get(segment)


def is_public(method: str, path: str) -> bool:
    method = "GET" if method == "HEAD" else method
    return any(m == method and pattern.match(path) for m, pattern in PUBLIC_ROUTES)
