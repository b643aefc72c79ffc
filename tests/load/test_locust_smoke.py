"""A short headless run of the Locust scenarios (loadtests/locustfile.py) against a real platform, in
both modes: no request may fail, no scenario may raise, and every scenario's requests must have
happened (a dossier goes all the way from submission to its result returned, a fee is paid through the
VNPay sandbox). Locust runs as its own process (`python -m locust`), so gevent's monkey-patching stays
out of pytest; its --csv files are the evidence."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from motcua import stack as stacks
from motcua.demo import submission_form

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"

pytestmark = pytest.mark.e2e

ACTIONS = ("receive", "transfer", "assign", "appraise", "approve", "request-fees", "resolve", "return-result")
# (method, name) of every request the scenarios make, by scenario.
SCENARIOS = {
    "sign in": [("GET", "/auth/dev/users"), ("POST", "/auth/dev/token")],
    "citizens search the catalogue": [("GET", "/api/v1/procedures?q="), ("GET", "/api/v1/procedures/{code}")],
    "citizens submit dossiers": [("POST", "/api/v1/dossiers")],
    "citizens look up their dossiers": [("POST", "/api/v1/lookup"), ("GET", "/api/v1/lookup/{code}")],
    "officers read their queues": [("GET", f"/api/v1/queues/{q}") for q in ("intake", "mine", "agency", "nearing",
                                                                              "overdue")],
    "officers move dossiers on": [("GET", "/api/v1/dossiers/{code}"),
                                  *(("POST", f"/api/v1/dossiers/{{code}}/{a}") for a in ACTIONS)],
    "citizens pay through the sandbox": [
        ("GET", "/api/v1/payments/dossiers/{code}"), ("POST", "/api/v1/payments"),
        ("GET", "sandbox /paymentv2/vpcpay.html"), ("POST", "sandbox /paymentv2/vpcpay.html"),
        ("GET", "/api/v1/payments/providers/vnpay/return"), ("GET", "/api/v1/payments/{payment_id}")],
}
LOOKUPS = SCENARIOS["citizens look up their dossiers"]
SEEDED = 5  # dossiers submitted before the runs: they warm the platform up, then fill the seed file


@pytest.fixture(scope="module", params=["embedded", pytest.param("distributed", marks=pytest.mark.integration)])
def platform(request, tmp_path_factory):
    """A platform of its own (the load leaves thousands of requests' worth of data behind) with the e2e
    stacks' high gateway limits, and a seed file of dossiers submitted to it."""
    logs = tmp_path_factory.mktemp(f"logs-{request.param}")
    stack = (stacks.embedded(logs, tmp_path_factory.mktemp("data")) if request.param == "embedded"
             else stacks.distributed(logs))
    try:
        stack.wait_ready()
        seed = tmp_path_factory.mktemp("seed") / "seed.tsv"
        with httpx.Client(base_url=stack.gateway, timeout=10) as gw:
            seed.write_text("".join(f"{code}\t{security_code}\n" for code, security_code in submitted(gw, SEEDED)))
        stack.seed_file = seed  # type: ignore[attr-defined]
        yield stack
    finally:
        stack.stop()


def submitted(gw: httpx.Client, count: int) -> list[tuple[str, str]]:
    """Dossiers submitted online and shown by the lookup; the first submission is retried until the
    dossier service knows the procedure (it may still be learning the catalogue at start)."""
    answer = gw.post("/auth/dev/token", json={"username": "citizen1"})
    assert answer.status_code == 200, answer.text
    citizen = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    form = submission_form()
    dossiers = []
    deadline = time.monotonic() + 30
    while len(dossiers) < count:
        answer = gw.post("/api/v1/dossiers", headers=citizen, **form)
        if answer.status_code == 201:
            dossiers.append((answer.json()["code"], answer.json()["security_code"]))
        else:
            assert not dossiers and time.monotonic() < deadline, answer.text
            time.sleep(0.5)
    for code, security_code in dossiers:
        while gw.post("/api/v1/lookup", json={"code": code, "security_code": security_code}).status_code != 200:
            assert time.monotonic() < deadline + 15, f"{code} not in the lookup"
            time.sleep(0.2)
    return dossiers


def run_locust(gateway: str, out: Path, *, users: int, rate: float, seconds: int, env: dict[str, str]) -> dict:
    """Locust headless against the gateway; its stats by (method, name), its history and its failures."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MOTCUA_LOAD_", "LOCUST_"))}
    prefix = out / "locust"
    log = out / "locust.log"
    with log.open("wb") as sink:
        proc = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
             "-u", str(users), "-r", str(rate), "-t", f"{seconds}s", "--host", gateway, "--csv", str(prefix)],
            env={**clean, **env}, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, timeout=seconds + 90)
    output = log.read_text(errors="replace")

    def rows(kind: str) -> list[dict]:
        path = Path(f"{prefix}_{kind}.csv")
        assert path.exists(), f"Locust wrote no {path.name}:\n{output[-4000:]}"
        with path.open(newline="") as file:
            return list(csv.DictReader(file))

    stats = {(r["Type"], r["Name"]): (int(r["Request Count"]), int(r["Failure Count"]))
             for r in rows("stats") if r["Name"] != "Aggregated"}
    return {"code": proc.returncode, "output": output, "stats": stats, "failures": rows("failures"),
            "exceptions": rows("exceptions"), "users": [int(r["User Count"]) for r in rows("stats_history")]}


def assert_clean(run: dict) -> None:
    summary = "\n".join(f"{m} {n}: {c} requests, {f} failed" for (m, n), (c, f) in sorted(run["stats"].items()))
    assert not run["failures"], "requests failed:\n" + "\n".join(
        f"{f['Occurrences']}× {f['Method']} {f['Name']}: {f['Error']}" for f in run["failures"])
    assert not run["exceptions"], "the scenarios raised:\n" + "\n".join(
        f"{e['Count']}× {e['Message']}\n{e['Traceback']}" for e in run["exceptions"])
    assert all(failed == 0 for _, failed in run["stats"].values()), summary
    assert run["code"] == 0, f"Locust exited with {run['code']}:\n{run['output'][-4000:]}"


def test_a_day_at_the_centre_every_scenario_without_a_failure(platform, tmp_path):
    """Few users, fast: one of each officer, three citizens; most approved dossiers get a fee."""
    run = run_locust(platform.gateway, tmp_path, users=6, rate=6, seconds=30, env={
        "MOTCUA_LOAD_WAIT_MIN": "0.1", "MOTCUA_LOAD_WAIT_MAX": "0.5", "MOTCUA_LOAD_LOOKUP_DELAY": "1.5",
        "MOTCUA_LOAD_FEE_SHARE": "0.7", "MOTCUA_LOAD_PAY_WEIGHT": "3"})
    assert_clean(run)
    expected = {request for requests in SCENARIOS.values() for request in requests}
    missing = {scenario: [r for r in requests if run["stats"].get(r, (0, 0))[0] == 0]
               for scenario, requests in SCENARIOS.items()}
    assert not any(missing.values()), f"requests that never happened: { {s: m for s, m in missing.items() if m} }"
    assert set(run["stats"]) <= expected, f"requests no scenario names: {set(run['stats']) - expected}"
    assert max(run["users"]) == 6


def test_results_day_spike_of_lookups_on_seeded_dossiers(platform, tmp_path):
    """MOTCUA_LOAD_SHAPE=results-day: 4 users, then 4 × 3 for a while, the extra ones only looking up;
    lookups pick from the seed file (citizens submit nothing here, so every lookup is a seeded one)."""
    run = run_locust(platform.gateway, tmp_path, users=4, rate=8, seconds=20, env={
        "MOTCUA_LOAD_SHAPE": "results-day", "MOTCUA_LOAD_SPIKE_START": "5", "MOTCUA_LOAD_SPIKE_DURATION": "9",
        "MOTCUA_LOAD_SPIKE_FACTOR": "3", "MOTCUA_LOAD_SEED_FILE": str(platform.seed_file),
        "MOTCUA_LOAD_SUBMIT_WEIGHT": "0", "MOTCUA_LOAD_WAIT_MIN": "0.2", "MOTCUA_LOAD_WAIT_MAX": "0.6"})
    assert_clean(run)
    assert all(run["stats"].get(r, (0, 0))[0] > 0 for r in LOOKUPS), run["stats"]
    assert ("POST", "/api/v1/dossiers") not in run["stats"]
    users = run["users"]
    assert max(users) == 12, users  # the spike
    peak = users.index(12)
    assert 4 in users[:peak] and 4 in users[peak:], users  # the baseline before it and after it
