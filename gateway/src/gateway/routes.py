"""Which upstream serves a path, and who may call it (the role matrix in gateway/roles.py). One table each,
tested route by route."""

from gateway import roles
from gateway.identity import Principal

# First segment of the path after /api/v1 → upstream.
UPSTREAM_BY_SEGMENT = {
    "procedures": "catalog", "fields": "catalog", "agencies": "catalog", "centres": "catalog", "forms": "catalog",
    "dossiers": "dossier", "queues": "dossier", "indicators": "dossier", "calendar": "dossier",
    "lookup": "lookup",
    "payments": "payment",
    "messages": "notification", "notifications": "notification", "webhooks": "notification",
    "petitions": "feedback", "ratings": "feedback", "open311": "feedback",
}

# Routes anyone may call without a token (DESIGN.md: catalogue, status lookup, feedback submission, and the
# callbacks whose signature or token is the credential): the PUBLIC rows of the role matrix (gateway/roles.py).
PUBLIC_ROUTES = [(r.method, r.pattern) for r in roles.ROUTES if r.public]


def upstream_for(path: str) -> str | None:
    segment = path.lstrip("/").split("/", 1)[0]
    return UPSTREAM_BY_SEGMENT.get(segment)


def is_public(method: str, path: str) -> bool:
    route = roles.route_for(method, path)
    return route is not None and route.public


def authorize(method: str, path: str, principal: Principal | None) -> roles.Route:
    """404 for a route not in the role matrix, 403 when the verified roles may not call it (after the 401
    for a missing token, so an anonymous caller learns nothing of the route map)."""
    return roles.authorize(method, path, principal.roles if principal is not None else ())
