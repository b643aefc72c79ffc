"""What the end-to-end tests share: polling, demo tokens, and a dossier submission with its files."""

import time

from motcua.demo import SUBMISSION, TINY_PDF, submission_form  # noqa: F401 (shared by the e2e tests)


def until(check, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s (last: {value!r})")
        time.sleep(interval)


def token(client, username):
    r = client.post("/auth/dev/token", json={"username": username})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def ok(response):
    return response.json() if response.status_code == 200 else None


def submit(client, headers, submission: dict | None = None) -> dict:
    """An online submission, retried until the dossier service knows the procedure (it may still be
    learning the catalogue at start); the receipt (code, security code)."""
    answer = until(lambda: (lambda a: a if a.status_code == 201 else None)(
        client.post("/api/v1/dossiers", **submission_form(submission), headers=headers)), timeout=30)
    return answer.json()
