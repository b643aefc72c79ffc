"""The caller as verified by the gateway, read from the headers it sets (and strips from clients)."""

from dataclasses import dataclass
from urllib.parse import unquote
from typing import Annotated

from fastapi import Depends, Header

from kit.problems import Problem

USER_ID, USER_ROLES, USER_AGENCY, USER_NAME = "X-User-Id", "X-User-Roles", "X-User-Agency", "X-User-Name"


@dataclass(frozen=True)
class Caller:
    subject: str | None
    roles: frozenset[str]
    agency: str | None
    name: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.subject is None

    def require(self, *roles: str) -> "Caller":
        if self.anonymous:
            raise Problem(401, "unauthenticated", "Sign-in required", "This action needs a signed-in user.")
        if not self.roles.intersection(roles):
            raise Problem(403, "forbidden-role", "Role not allowed",
                          f"This action needs one of the roles: {', '.join(sorted(roles))}.", required_roles=sorted(roles))
        return self


def caller_from_headers(
    x_user_id: Annotated[str | None, Header(alias=USER_ID, include_in_schema=False)] = None,
    x_user_roles: Annotated[str | None, Header(alias=USER_ROLES, include_in_schema=False)] = None,
    x_user_agency: Annotated[str | None, Header(alias=USER_AGENCY, include_in_schema=False)] = None,
    x_user_name: Annotated[str | None, Header(alias=USER_NAME, include_in_schema=False)] = None,
) -> Caller:
    roles = frozenset(r.strip() for r in (x_user_roles or "").split(",") if r.strip())
    # The gateway percent-encodes the display name: header values are latin-1 on the wire.
    return Caller(subject=x_user_id or None, roles=roles, agency=x_user_agency or None,
                  name=unquote(x_user_name) if x_user_name else None)


CurrentCaller = Annotated[Caller, Depends(caller_from_headers)]
