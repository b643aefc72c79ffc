"""Load test of Một Cửa through its gateway: citizens browse procedures, submit dossiers and (most
often) look up their status; reception officers receive the submitted dossiers.

    uv run --with locust locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 30s \
        --host http://127.0.0.1:8000

Locust's own options come from the command line or LOCUST_* variables; the mix comes from
MOTCUA_LOAD_* variables (see loadtests/README.md). Needs the gateway's development issuer (demo
users) and the demo catalogue, as the embedded platform and docker-compose.yml have.
"""

import json
import os
import random
import time
import uuid
from collections import deque

from locust import HttpUser, between, task


def setting(name: str, default: float) -> float:
    return float(os.environ.get(f"MOTCUA_LOAD_{name}", default))


PROCEDURE = os.environ.get("MOTCUA_LOAD_PROCEDURE", "1.000894")
# The lookup reads a model fed by events: a dossier shows there shortly after its submission.
LOOKUP_DELAY = setting("LOOKUP_DELAY", 2.0)
WAIT = between(setting("WAIT_MIN", 0.5), setting("WAIT_MAX", 2.0))

SUBMISSION = {
    "procedure_code": PROCEDURE,
    "applicant": {"name": "Nguyễn Văn An", "id_number": "022090001234", "phone": "0912345678",
                  "email": "an@example.vn", "address": "Hạ Long, Quảng Ninh"},
    "documents": [{"code": "TK", "files": ["to-khai.pdf"]}],
}
# Each listed file travels as a `files` part; the service checks it is really a PDF, JPEG or PNG.
TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
SUBMISSION_FORM = [("submission", (None, json.dumps(SUBMISSION).encode(), "application/json")),
                   ("files", ("to-khai.pdf", TINY_PDF, "application/pdf"))]

# Dossiers submitted in this Locust process and not yet received: the officers' in-tray.
in_tray: deque[str] = deque(maxlen=10_000)


class SignedIn(HttpUser):
    """A user of a demo account; signs in again when the token has expired."""

    abstract = True
    username = ""

    def on_start(self) -> None:
        self.sign_in()

    def sign_in(self) -> None:
        response = self.client.post("/auth/dev/token", json={"username": self.username})
        response.raise_for_status()
        self.auth = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def post(self, path: str, *, name: str, expect: tuple[int, ...], json: dict | None = None,
             files: list | None = None):
        """POST with the token; statuses in `expect` count as success. Returns the response or None."""
        for attempt in (1, 2):
            with self.client.post(path, json=json, files=files, name=name, catch_response=True,
                                  headers={**self.auth, "Idempotency-Key": str(uuid.uuid4())}) as response:
                if response.status_code == 401 and attempt == 1:
                    response.success()  # expired token: not the system's failure, sign in and retry
                    self.sign_in()
                    continue
                if response.status_code in expect:
                    response.success()
                    return response
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
        return None


class CitizenUser(SignedIn):
    weight = int(setting("CITIZEN_WEIGHT", 9))
    wait_time = WAIT
    username = "citizen1"

    def on_start(self) -> None:
        super().on_start()
        self.procedures = [PROCEDURE]
        self.submitted: deque[tuple[str, str, float]] = deque(maxlen=100)  # code, security code, when

    @task(int(setting("BROWSE_WEIGHT", 3)))
    def browse(self) -> None:
        with self.client.get("/api/v1/procedures?limit=20", name="/api/v1/procedures",
                             catch_response=True) as response:
            if response.ok:
                self.procedures = [p["code"] for p in response.json()["items"]] or self.procedures
        code = random.choice(self.procedures)
        self.client.get(f"/api/v1/procedures/{code}", name="/api/v1/procedures/{code}")

    @task(int(setting("SUBMIT_WEIGHT", 1)))
    def submit(self) -> None:
        response = self.post("/api/v1/dossiers", files=SUBMISSION_FORM, name="/api/v1/dossiers", expect=(201,))
        if response is not None:
            receipt = response.json()
            self.submitted.append((receipt["code"], receipt["security_code"], time.monotonic()))
            in_tray.append(receipt["code"])

    @task(int(setting("LOOKUP_WEIGHT", 6)))
    def look_up(self) -> None:
        ready = [d for d in self.submitted if time.monotonic() - d[2] >= LOOKUP_DELAY]
        if not ready:
            return
        code, security_code, _ = random.choice(ready)
        self.client.post("/api/v1/lookup", json={"code": code, "security_code": security_code},
                         name="/api/v1/lookup")


class OfficerUser(SignedIn):
    weight = int(setting("OFFICER_WEIGHT", 1))
    wait_time = WAIT
    username = "reception1"

    @task
    def receive(self) -> None:
        if not in_tray:
            return
        code = in_tray.popleft()
        # 409: another officer got there first, or it moved on already; both are normal here.
        self.post(f"/api/v1/dossiers/{code}/receive", name="/api/v1/dossiers/{code}/receive", expect=(200, 409))
