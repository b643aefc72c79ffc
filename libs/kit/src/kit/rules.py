"""A domain rule that refused a command. Pure (no framework), so a service's domain module can raise it;
`kit.problems.install` answers it as problem+json with its status, and nothing was changed."""


class RuleViolation(Exception):
    status = 422
    kind = "invalid-command"

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


# The problem's title by status, for every service's rule violations.
TITLES = {403: "Action not allowed for you", 409: "Not allowed in the current state",
          422: "The command is not valid"}
