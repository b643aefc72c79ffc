"""Load test of Một Cửa through its gateway, shaped like a day at a service centre:

- citizens search the catalogue and read procedures, submit dossiers (with their files) and, most of
  all, look up the status of their dossiers (the lookup form and the receipt's QR code link); when a
  fee is asked for, they pay it online through the payment provider (the VNPay sandbox);
- reception officers, specialists and leaders work their queues and move each dossier along its
  whole lifecycle: receive, transfer, assign, appraise, approve, ask for the fee (a share of them),
  resolve and return the result;
- with MOTCUA_LOAD_SHAPE=results-day, a spike of lookups: for a while, many more people look up
  their dossiers (results are out).

    uv run locust -f loadtests/locustfile.py --headless -u 20 -r 5 -t 60s --host http://127.0.0.1:8000

Locust's own options come from the command line or LOCUST_* variables; the mix comes from
MOTCUA_LOAD_* variables (see loadtests/README.md). Needs the gateway's development issuer (demo users),
the demo catalogue and rate limits raised for one client machine, as loadtests/README.md explains.

Any status a scenario does not expect is a failure. Two answers that are part of the job are not:
409 `illegal-transition` or `concurrent-update` on a lifecycle action (another officer moved the dossier
first), and a fee item the payment service has not billed yet (looked at again later; not billed after
MOTCUA_LOAD_FEE_TIMEOUT seconds is a failure of its own, "fee item billed")."""

import json
import mmap
import os
import random
import time
import uuid
from array import array
from collections import OrderedDict, deque
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from locust import HttpUser, LoadTestShape, between, task


def setting(name: str, default: float) -> float:
    return float(os.environ.get(f"MOTCUA_LOAD_{name}", default))


def text(name: str, default: str) -> str:
    return os.environ.get(f"MOTCUA_LOAD_{name}", default)


PROCEDURE = text("PROCEDURE", "1.000894")
DOCUMENTS = [d.strip() for d in text("DOCUMENTS", "TK,XNTTHN").split(",") if d.strip()]
AGENCY = text("AGENCY", "000.00.21.H49")  # where reception sends the dossiers, and where its staff work
SEARCH_WORDS = [w.strip() for w in text(
    "SEARCH_WORDS", "đăng ký,khai sinh,kết hôn,khai tử,hộ tịch,chứng thực,giấy phép,hộ kinh doanh,"
                    "xây dựng,lý lịch tư pháp,dang ky ket hon").split(",") if w.strip()]
# The lookup reads a model fed by events: a dossier shows there shortly after its submission.
LOOKUP_DELAY = setting("LOOKUP_DELAY", 2.0)
WAIT = between(setting("WAIT_MIN", 0.5), setting("WAIT_MAX", 2.0))
FEE_SHARE = setting("FEE_SHARE", 0.3)  # share of approved dossiers whose leader asks for a fee first
FEE_AMOUNT = int(setting("FEE_AMOUNT", 75_000))
FEE_TIMEOUT = setting("FEE_TIMEOUT", 60.0)
SANDBOX_URL = text("SANDBOX_URL", "")  # if set, the payment pages are asked here, not at the checkout URL's host
BATCH = int(setting("BATCH", 5))  # dossiers an officer moves on per look at the queue, at most
QUEUE_PAGES = int(setting("QUEUE_PAGES", 3))  # pages an officer reads looking for work
SHAPE = text("SHAPE", "")
RESULTS_DAY = "results-day"
if SHAPE not in ("", "steady", RESULTS_DAY):
    raise SystemExit(f"MOTCUA_LOAD_SHAPE={SHAPE!r}: expected 'steady' (the default) or '{RESULTS_DAY}'")

# Each listed file travels as a `files` part; the service checks it is really a PDF, JPEG or PNG.
TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
SUBMISSION = {
    "procedure_code": PROCEDURE,
    "applicant": {"name": "Nguyễn Văn An", "id_number": "022090001234", "phone": "0912345678",
                  "email": "an@example.vn", "address": "Hạ Long, Quảng Ninh"},
    "documents": [{"code": code, "files": [f"{code.lower()}.pdf"]} for code in DOCUMENTS],
    "result_channel": "online",
}
SUBMISSION_FORM = [("submission", (None, json.dumps(SUBMISSION, ensure_ascii=False).encode(), "application/json")),
                   *(("files", (f"{code.lower()}.pdf", TINY_PDF, "application/pdf")) for code in DOCUMENTS)]
RETURN_PATH = "/api/v1/payments/providers/vnpay/return"
EXPIRED = object()  # what `call` answers for a 401 to a signed-in request
# A 409 on a lifecycle action that only says someone else was quicker.
RACES = ("/problems/illegal-transition", "/problems/concurrent-update")


# -- what the users of this Locust process share --------------------------------------------------------


class Pool:
    """Dossiers (code, security code) to look up, each once the lookup's read model has had time to
    show it; the most recent `cap` are kept."""

    def __init__(self, cap: int):
        self.cap = cap
        self.pending: deque[tuple[float, str, str]] = deque()
        self.ready: list[tuple[str, str]] = []
        self.next = 0  # where the next ready dossier goes once `ready` is full

    def add(self, code: str, security_code: str) -> None:
        self.pending.append((time.monotonic() + LOOKUP_DELAY, code, security_code))

    def pick(self) -> tuple[str, str] | None:
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            _, code, security_code = self.pending.popleft()
            if len(self.ready) < self.cap:
                self.ready.append((code, security_code))
            else:
                self.ready[self.next] = (code, security_code)
                self.next = (self.next + 1) % self.cap
        return random.choice(self.ready) if self.ready else None


class SeedFile:
    """Pre-seeded dossiers, one `code<TAB>security code` line each (loadtests/seed.py writes them):
    mapped, not read into memory, with an index of line starts (8 bytes a line), so a million lines
    cost 8 MB per Locust process and each pick is uniform."""

    def __init__(self, path: Path):
        with path.open("rb") as file:
            self.data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if path.stat().st_size else b""
        self.starts = array("q")
        position, size = 0, len(self.data)
        while position < size:
            end = self.data.find(b"\n", position)
            end = size if end < 0 else end
            if end > position:
                self.starts.append(position)
            position = end + 1
        if not self.starts:
            raise SystemExit(f"MOTCUA_LOAD_SEED_FILE={path}: no `code<TAB>security code` line in it")

    def __len__(self) -> int:
        return len(self.starts)

    def pick(self) -> tuple[str, str]:
        start = self.starts[random.randrange(len(self.starts))]
        end = self.data.find(b"\n", start)
        line = self.data[start:end if end >= 0 else len(self.data)].decode().strip()
        code, _, security_code = line.partition("\t")
        if not code or not security_code:
            raise ValueError(f"MOTCUA_LOAD_SEED_FILE: not a `code<TAB>security code` line: {line!r}")
        return code, security_code.strip()


SEED = SeedFile(Path(os.environ["MOTCUA_LOAD_SEED_FILE"])) if os.environ.get("MOTCUA_LOAD_SEED_FILE") else None
submitted = Pool(cap=100_000)  # every dossier submitted in this process: the results-day crowd's
security_codes: OrderedDict[str, str] = OrderedDict()  # code → security code, of those submitted here
fees_due: deque[tuple[float, float, str, str]] = deque()  # (look from, asked at, code, security code)
fee_decided: dict[str, bool] = {}  # approved dossiers: does a fee come first (decided once per dossier)?
results_to_return: deque[str] = deque(maxlen=100_000)  # resolved: reception hands the result over
in_hand: set[str] = set()  # dossiers an officer of this process is acting on right now
_demo_users: list[dict] | None = None  # GET /auth/dev/users, once


def remember(code: str, security_code: str) -> None:
    security_codes[code] = security_code
    while len(security_codes) > 200_000:
        security_codes.popitem(last=False)


# -- users ------------------------------------------------------------------------------------------------


class Visitor(HttpUser):
    """Anyone: requests with strict statuses, and the status lookup (public)."""

    abstract = True
    wait_time = WAIT

    def call(self, method: str, path: str, *, name: str, expect: tuple[int, ...] = (200,), races: bool = False,
             check=None, signed_in: bool = False, **kwargs):
        """One request; a status in `expect` (and then `check(response)` naming no problem) or, with
        `races`, a 409 that only says someone else was quicker counts as success, anything else as a
        failure. The response, None on a failure, or EXPIRED for a 401 to a `signed_in` request."""
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as response:
            if response.status_code == 401 and signed_in:
                response.success()  # an expired token is not the platform's failure
                return EXPIRED
            if response.status_code in expect:
                problem = check(response) if check is not None else None
                if problem:
                    response.failure(problem)
                    return None
                response.success()
                return response
            if races and response.status_code == 409 and _body(response).get("type") in RACES:
                response.success()
                return response
            response.failure(_unexpected(response))
            return None

    def look_up(self, dossier: tuple[str, str] | None) -> None:
        """The lookup form (POST) two times in three, the receipt's QR code link (GET) otherwise."""
        if dossier is None:
            return
        code, security_code = dossier
        if random.random() < 2 / 3:
            self.call("POST", "/api/v1/lookup", name="/api/v1/lookup",
                      json={"code": code, "security_code": security_code})
        else:
            self.call("GET", f"/api/v1/lookup/{code}", name="/api/v1/lookup/{code}",
                      params={"security_code": security_code})


def _body(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unexpected(response) -> str:
    """A failure's message: the status and the problem's type and title (not the body, so that Locust
    counts the same failure as one line however many dossiers it hits)."""
    problem = _body(response)
    what = f"{response.status_code} {problem.get('type', '')} {problem.get('title', '')}".strip()
    if response.status_code == 429:
        what += " (rate limited: raise the gateway's limits, see loadtests/README.md)"
    return what


def _field(response, name: str, allowed: tuple[str, ...]) -> str | None:
    value = _body(response).get(name)
    return None if value in allowed else f"{response.status_code} with {name}={value!r}, expected one of {allowed}"


def _to_return_page(response) -> str | None:
    location = response.headers.get("location", "")
    if urlsplit(location).path.endswith(RETURN_PATH):
        return None
    return f"{response.status_code} to {location[:100]!r}, not the platform's return page"


class SignedIn(Visitor):
    """A demo account of the development issuer; signs in again when the token has expired."""

    abstract = True
    role = ""
    agency: str | None = None  # staff: the demo users of this agency only

    def on_start(self) -> None:
        self.auth: dict[str, str] = {}
        self.username = self.pick_user()
        self.sign_in()

    def demo_users(self, role: str) -> list[str]:
        """The usernames of the development issuer's demo users with this role (at `agency`, for staff),
        read once per Locust process."""
        global _demo_users
        if _demo_users is None:
            users = self.call("GET", "/auth/dev/users", name="/auth/dev/users")
            if users is None:
                return []
            _demo_users = users.json()
        return [u["username"] for u in _demo_users
                if role in u["roles"] and (self.agency is None or u.get("agency") == self.agency)]

    def pick_user(self) -> str:
        fits = self.demo_users(self.role)
        if not fits:
            raise RuntimeError(f"no demo user with the role {self.role!r} at agency {self.agency!r} (GET /auth/dev/users)")
        return random.choice(fits)

    def sign_in(self) -> bool:
        response = self.call("POST", "/auth/dev/token", name="/auth/dev/token", json={"username": self.username})
        self.auth = {"Authorization": f"Bearer {response.json()['access_token']}"} if response is not None else {}
        return bool(self.auth)

    def act(self, method: str, path: str, *, name: str, **kwargs):
        """`call` with the token (and an Idempotency-Key on a POST); an expired token is renewed once."""
        for _ in (1, 2):
            if not self.auth and not self.sign_in():
                return None
            idempotency = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {}
            response = self.call(method, path, name=name, headers={**self.auth, **idempotency}, signed_in=True,
                                 **kwargs)
            if response is not EXPIRED:
                return response
            self.auth = {}
        return None


class CitizenUser(SignedIn):
    """Searches the catalogue and reads procedures, submits dossiers, looks up their status (most of
    all) and pays the fees asked for."""

    role = "citizen"

    def on_start(self) -> None:
        super().on_start()
        self.mine = Pool(cap=100)  # the dossiers this citizen submitted

    @task(int(setting("SEARCH_WEIGHT", 3)))
    def search(self) -> None:
        word = random.choice(SEARCH_WORDS)
        found = self.call("GET", "/api/v1/procedures", name="/api/v1/procedures?q=",
                          params={"q": word, "limit": 20})
        codes = [p["code"] for p in found.json()["items"]] if found is not None else []
        code = random.choice(codes or [PROCEDURE])
        self.call("GET", f"/api/v1/procedures/{code}", name="/api/v1/procedures/{code}")

    @task(int(setting("SUBMIT_WEIGHT", 1)))
    def submit(self) -> None:
        response = self.act("POST", "/api/v1/dossiers", name="/api/v1/dossiers", expect=(201,),
                            files=SUBMISSION_FORM)
        if response is not None:
            receipt = response.json()
            code, security_code = receipt["code"], receipt["security_code"]
            self.mine.add(code, security_code)
            submitted.add(code, security_code)
            remember(code, security_code)

    @task(int(setting("LOOKUP_WEIGHT", 6)))
    def lookup(self) -> None:
        self.look_up(SEED.pick() if SEED is not None else self.mine.pick())

    @task(int(setting("PAY_WEIGHT", 1)))
    def pay(self) -> None:
        """A fee asked for on a dossier of this process (the citizen heard of it by SMS): its fee item,
        a payment, the provider's page, "pay", and back to the platform."""
        if not fees_due or fees_due[0][0] > time.monotonic():
            return
        _, asked_at, code, security_code = fees_due.popleft()
        fees = self.act("GET", f"/api/v1/payments/dossiers/{code}", name="/api/v1/payments/dossiers/{code}",
                        params={"security_code": security_code})
        if fees is None:
            return
        item = next((i for i in fees.json()["items"] if i["source"] == "requested"), None)
        if item is None:  # the payment service has not billed it yet: later, within FEE_TIMEOUT
            waited = time.monotonic() - asked_at
            if waited < FEE_TIMEOUT:
                fees_due.append((time.monotonic() + 1.0, asked_at, code, security_code))
            else:
                self.environment.events.request.fire(
                    request_type="FLOW", name="fee item billed", response_time=waited * 1000, response_length=0,
                    exception=RuntimeError(f"{code}: no fee item {FEE_TIMEOUT:.0f} s after request-fees"),
                    context={})
            return
        if item["status"] not in ("due", "in_progress"):
            return  # paid meanwhile (at the counter, say)
        started = self.act("POST", "/api/v1/payments", name="/api/v1/payments", expect=(201, 200),
                           json={"item_id": item["item_id"], "security_code": security_code, "method": "vnpay"})
        if started is None:
            return
        payment = started.json()
        checkout = payment["checkout_url"]
        if SANDBOX_URL:  # the provider as this machine reaches it (a container, say)
            parts = urlsplit(checkout)
            checkout = SANDBOX_URL.rstrip("/") + urlunsplit(("", "", parts.path, parts.query, ""))
        # The citizen's browser at the provider: its page, then "pay" (the sandbox's form without a browser).
        if self.call("GET", checkout, name="sandbox /paymentv2/vpcpay.html") is None:
            return
        back = self.call("POST", checkout + "&auto=success", name="sandbox /paymentv2/vpcpay.html",
                         expect=(303,), allow_redirects=False, check=_to_return_page)
        if back is None:
            return
        # Back to the platform's return page (it only shows the payment: the provider's IPN settles it),
        # on the gateway under test whatever public address the platform gave the provider.
        location = urlsplit(back.headers["location"])
        self.call("GET", urlunsplit(("", "", location.path, location.query, "")), name=RETURN_PATH,
                  check=lambda r: _field(r, "provider_says", ("success",)))
        # The sandbox sends its first IPN before it redirects: settled by now, or (if that IPN was not
        # acknowledged) still being confirmed; anything else is wrong.
        self.act("GET", f"/api/v1/payments/{payment['payment_id']}", name="/api/v1/payments/{payment_id}",
                 check=lambda r: _field(r, "state", ("succeeded", "started")))


class ResultsDayCitizen(Visitor):
    """Results are out: people who filed earlier look their dossiers up, again and again (anonymous, as
    the lookup page is). Spawned only by the results-day shape."""

    abstract = SHAPE != RESULTS_DAY

    @task
    def lookup(self) -> None:
        self.look_up(SEED.pick() if SEED is not None else submitted.pick())


class Officer(SignedIn):
    """Staff of AGENCY: reads a work queue (a few pages at most, until there is something to do), opens
    each dossier it can move on, and takes the next step of its lifecycle."""

    abstract = True
    agency = AGENCY
    queue = ""

    def next_step(self, dossier: dict) -> tuple[str, dict | None] | None:
        """The action (and its body) this officer takes on a dossier in its current state, if any."""
        raise NotImplementedError

    def actionable(self, item: dict) -> bool:
        raise NotImplementedError

    def work_queue(self) -> None:
        todo: list[str] = []
        cursor = None
        for _ in range(QUEUE_PAGES):
            page = self.act("GET", f"/api/v1/queues/{self.queue}", name=f"/api/v1/queues/{self.queue}",
                            params={"limit": 20, **({"cursor": cursor} if cursor else {})})
            if page is None:
                return
            body = page.json()
            todo += [i["code"] for i in body["items"] if self.actionable(i) and i["code"] not in in_hand]
            cursor = body["next_cursor"]
            if todo or cursor is None:
                break
        for code in todo[:BATCH]:
            self.move_on(code)

    def move_on(self, code: str) -> dict | None:
        """Open the dossier and take the step its state calls for; the dossier after it, or None."""
        if code in in_hand:
            return None
        in_hand.add(code)
        try:
            detail = self.act("GET", f"/api/v1/dossiers/{code}", name="/api/v1/dossiers/{code}")
            step = self.next_step(detail.json()) if detail is not None else None
            if step is None:
                return None
            action, body = step
            moved = self.act("POST", f"/api/v1/dossiers/{code}/{action}", name=f"/api/v1/dossiers/{{code}}/{action}",
                             races=True, json=body)
            if moved is None or moved.status_code != 200:
                return None
            dossier = moved.json()
            self.after(action, dossier)
            return dossier
        finally:
            in_hand.discard(code)

    def after(self, action: str, dossier: dict) -> None:
        """What follows a step taken (the hand-offs outside the queues)."""


class ReceptionOfficer(Officer):
    """At the counter: receives what was filed online, sends it to the agency, hands results over."""

    role = "reception_officer"
    queue = "intake"
    fixed_count = int(setting("RECEPTION_OFFICERS", 1))
    abstract = fixed_count == 0  # none of them (a fixed count of 0 would mean: spawned by weight)

    def actionable(self, item: dict) -> bool:
        return item["state"] in ("submitted", "received")

    def next_step(self, dossier: dict) -> tuple[str, dict | None] | None:
        return {"submitted": ("receive", None),
                "received": ("transfer", {"to_agency": AGENCY}),
                "resolved": ("return-result", {"method": "online"})}.get(dossier["state"])

    @task(4)
    def intake(self) -> None:
        self.work_queue()

    @task(1)
    def return_results(self) -> None:
        for _ in range(min(BATCH, len(results_to_return))):
            self.move_on(results_to_return.popleft())


class Specialist(Officer):
    """Appraises the dossiers assigned to them."""

    role = "specialist"
    queue = "mine"
    fixed_count = int(setting("SPECIALISTS", 1))
    abstract = fixed_count == 0  # none of them (a fixed count of 0 would mean: spawned by weight)

    def actionable(self, item: dict) -> bool:
        return item["state"] == "assigned"

    def next_step(self, dossier: dict) -> tuple[str, dict | None] | None:
        if dossier["state"] == "assigned" and dossier["assignee"] == self.username:
            return "appraise", {"proposal": "approve", "reason": "Hồ sơ hợp lệ, đủ điều kiện."}
        return None

    @task
    def appraise(self) -> None:
        self.work_queue()


class Leader(Officer):
    """Assigns, approves, asks for the fee (a share of dossiers), resolves; keeps an eye on deadlines."""

    role = "leader"
    queue = "agency"
    fixed_count = int(setting("LEADERS", 1))
    abstract = fixed_count == 0  # none of them (a fixed count of 0 would mean: spawned by weight)

    def on_start(self) -> None:
        super().on_start()
        self.specialists = self.demo_users("specialist")

    def actionable(self, item: dict) -> bool:
        return item["state"] in ("transferred", "appraised", "approved")

    def next_step(self, dossier: dict) -> tuple[str, dict | None] | None:
        state, code = dossier["state"], dossier["code"]
        if state == "transferred" and self.specialists:
            return "assign", {"specialist": random.choice(self.specialists)}
        if state == "appraised":
            return "approve", None
        if state == "approved":
            # A fee only for dossiers filed from this process: only their citizens can pay it.
            if code not in fee_decided:  # forgotten at resolve
                fee_decided[code] = code in security_codes and random.random() < FEE_SHARE
            if fee_decided[code]:
                return "request-fees", {"amount": FEE_AMOUNT, "description": "Lệ phí đăng ký"}
            return "resolve", {"result_number": f"{random.randint(1, 9999)}/GCNKH"}
        return None

    def after(self, action: str, dossier: dict) -> None:
        code = dossier["code"]
        if action == "request-fees":
            fee_decided[code] = False  # paid, it comes back approved: then resolve
            if code in security_codes:
                now = time.monotonic()
                fees_due.append((now + LOOKUP_DELAY, now, code, security_codes[code]))
        elif action == "resolve":
            fee_decided.pop(code, None)
            results_to_return.append(code)

    @task(4)
    def work(self) -> None:
        self.work_queue()

    @task(1)
    def deadlines(self) -> None:
        for queue in ("nearing", "overdue"):
            self.act("GET", f"/api/v1/queues/{queue}", name=f"/api/v1/queues/{queue}", params={"limit": 20})


# -- the results-day shape --------------------------------------------------------------------------------

if SHAPE == RESULTS_DAY:
    BASELINE = [c for c in (CitizenUser, ReceptionOfficer, Specialist, Leader) if not c.abstract]

    class ResultsDay(LoadTestShape):
        """-u users (-r a second) for the whole run (-t, default 10 minutes), and during the spike
        MOTCUA_LOAD_SPIKE_FACTOR times as many: the extra ones only look up dossiers. The spike starts at
        MOTCUA_LOAD_SPIKE_START seconds (default a third of the run) and lasts MOTCUA_LOAD_SPIKE_DURATION
        (default a third of the run)."""

        use_common_options = True

        def tick(self):
            options = self.runner.environment.parsed_options
            users = options.num_users or 20
            rate = options.spawn_rate or 5
            run_time = options.run_time or 600
            start = setting("SPIKE_START", run_time / 3)
            duration = setting("SPIKE_DURATION", run_time / 3)
            factor = setting("SPIKE_FACTOR", 5)
            now = self.get_run_time()
            if now >= run_time:
                return None
            if start <= now < start + duration:
                return round(users * factor), rate * factor, [ResultsDayCitizen]
            return users, rate, BASELINE
