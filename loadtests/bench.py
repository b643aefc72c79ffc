"""`make bench`: the platform's performance targets, measured in one run on this machine.

    uv run python loadtests/bench.py [--small 10000] [--large 1000000] [--seconds 15]
                                     [--submit-rate 500] [--submit-seconds 60] [--event-rate 200] [--event-seconds 30]

Starts the local distributed stack (every deployable in its own process on the real Kafka, FerretDB and
Redis of `make infra`: motcua.stack), seeds the lookup's read model (loadtests/seed.py), and measures:

  0. the raw baseline: a minimal ASGI app answering one Redis GET (loadtests/raw_baseline.py), served the
     same way, 50 connections;
  1. status lookups through the gateway at 50 connections, over `--small` dossiers;
  2. the same over `--large` dossiers (p50 against 1's);
  3. dossier submissions through the gateway, open loop at `--submit-rate` for `--submit-seconds`, then
     a count of every accepted dossier in the store, in the read model and in the notifications;
  4. the event path at `--event-rate` submissions/s: from a submission's 201 to the lookup showing it;
  5. each process's resident memory, sampled all along.

The lookups' load comes from wrk when it is installed (`make load-tools`, Debian's package), else from
Python client processes; the submissions' from Python (aiohttp) processes. All run on the same 2 cores
as the stack, so every figure includes the client's share of the CPU. Prints the table (target, goal,
measured, verdict) and writes it as JSON to var/bench/bench.json."""

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench_lookup import cpu_seconds, free_port, request_lines, run_python, run_wrk, server_process
from kit.testing import MONGODB, REDIS, remove_namespaces
from motcua import stack as stacks
from motcua.demo import SUBMISSION, TINY_PDF, file_names, submission_form
from seed import dossier_codes, progress_bar, seed

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 50
# The stack for a benchmark: no rate limits in the way, quiet logs, no trace export.
BENCH_ENV = {"MOTCUA_RATE_LIMITS": "false", "MOTCUA_LOG_LEVEL": "WARNING", "MOTCUA_OTEL_EXPORTER": "none"}


def aiohttp_form(body: str):
    """The demo submission as aiohttp multipart (the benchmark's clients are aiohttp)."""
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("submission", body, content_type="application/json")
    for name in file_names():
        form.add_field("files", TINY_PDF, filename=name, content_type="application/pdf")
    return form


def drive_lookups(url: str, pairs: list[tuple[str, str]], prefix: str, seconds: float) -> dict:
    """Valid lookups, half by GET (the receipt's QR link), half by POST, from wrk when it is installed
    (`make load-tools`; C, a small share of the CPU), else from Python client processes."""
    lines = request_lines(pairs, 0.0, prefix)
    for line in lines[:100]:  # warm up connections and caches
        method, path, *body = line.split("\t")
        httpx.request(method, url + path, content=body[0] if body else None,
                      headers={"Content-Type": "application/json"} if body else None)
    if shutil.which("wrk"):
        with tempfile.NamedTemporaryFile("w", suffix=".tsv") as lines_file:
            lines_file.write("\n".join(lines) + "\n")
            lines_file.flush()
            result = run_wrk(url, Path(lines_file.name), CONNECTIONS, seconds, threads=2)
    else:
        result = run_python(url, lines, CONNECTIONS, seconds, processes=2)
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    return result


# --- submissions (open loop) ------------------------------------------------------------------

def _submit_worker(gateway: str, lookup: str, token: str, rate: float, seconds: float, sample_every: int,
                   seed_: int) -> dict:
    """Submit at `rate`/s for `seconds` whatever the answers' pace (open loop: a slow server meets a queue,
    as it would from citizens), at most 400 in flight. Every `sample_every`-th accepted dossier is then
    polled on the lookup process until it shows, for the event path."""
    import aiohttp

    async def main() -> dict:
        rng = random.Random(seed_)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        accepted: list[tuple[str, str]] = []
        visible: list[float] = []
        errors = 0
        in_flight = asyncio.Semaphore(400)
        body = json.dumps(SUBMISSION, ensure_ascii=False)

        async def watch(session, code: str, security_code: str, acknowledged: float) -> None:
            deadline = acknowledged + 30
            while time.perf_counter() < deadline:
                async with session.get(f"{lookup}/lookup/{code}", params={"security_code": security_code}) as r:
                    await r.read()
                    if r.status == 200:
                        visible.append(time.perf_counter() - acknowledged)
                        return
                await asyncio.sleep(0.005)
            visible.append(float("inf"))  # never showed within 30 s

        async def one(session, n: int) -> None:
            nonlocal errors
            form = aiohttp_form(body)
            started = time.perf_counter()
            try:
                async with session.post(f"{gateway}/api/v1/dossiers", data=form, headers={
                        "Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.UUID(int=rng.getrandbits(128)))}) as r:
                    answer = await r.read()
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                    latencies.append(time.perf_counter() - started)
                    if r.status == 201:
                        receipt = json.loads(answer)
                        accepted.append((receipt["code"], receipt["security_code"]))
                        if sample_every and len(accepted) % sample_every == 0:
                            await watch(session, receipt["code"], receipt["security_code"], time.perf_counter())
            except (aiohttp.ClientError, asyncio.TimeoutError):
                errors += 1
            finally:
                in_flight.release()

        connector = aiohttp.TCPConnector(limit=400)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            tasks = []
            started = time.perf_counter()
            n = 0
            while (now := time.perf_counter()) - started < seconds:
                due = int((now - started) * rate)
                while n < due:
                    await in_flight.acquire()
                    tasks.append(asyncio.create_task(one(session, n)))
                    n += 1
                await asyncio.sleep(0.002)
            offered_for = time.perf_counter() - started
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - started
        return {"latencies": latencies, "statuses": statuses, "accepted": accepted, "visible": visible,
                "errors": errors, "offered": n, "offered_for": offered_for, "elapsed": elapsed}

    return asyncio.run(main())


def _closed_loop_worker(gateway: str, token: str, concurrency: int, seconds: float, seed_: int) -> dict:
    """`concurrency` submitters, each sending its next dossier when the last is answered: the rate the
    platform sustains without a queue (the capacity), where the open loop above measures a given rate."""
    import aiohttp

    async def main() -> dict:
        rng = random.Random(seed_)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        body = json.dumps(SUBMISSION, ensure_ascii=False)
        stop_at = time.perf_counter() + seconds

        async def submitter(session) -> None:
            while time.perf_counter() < stop_at:
                form = aiohttp_form(body)
                started = time.perf_counter()
                async with session.post(f"{gateway}/api/v1/dossiers", data=form, headers={
                        "Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.UUID(int=rng.getrandbits(128)))}) as r:
                    await r.read()
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                    latencies.append(time.perf_counter() - started)

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            await asyncio.gather(*(submitter(session) for _ in range(concurrency)))
        return {"latencies": latencies, "statuses": statuses}

    return asyncio.run(main())


def capacity_run(gateway: str, token: str, concurrency: int, seconds: float) -> dict:
    result = _closed_loop_worker(gateway, token, concurrency, seconds, 99)
    accepted = result["statuses"].get("201", 0)
    return {"concurrency": concurrency, "accepted_rate": round(accepted / seconds, 1), "statuses": result["statuses"],
            "p50_ms": ms(percentile(result["latencies"], 50)), "p99_ms": ms(percentile(result["latencies"], 99))}


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def ms(value: float | None) -> float | None:
    return None if value is None else (round(value * 1000, 1) if value != float("inf") else float("inf"))


def submit_run(gateway: str, lookup: str, token: str, rate: float, seconds: float, sample_every: int) -> dict:
    processes = 2
    with ProcessPoolExecutor(processes) as pool:
        parts = list(pool.map(_submit_worker, [gateway] * processes, [lookup] * processes, [token] * processes,
                              [rate / processes] * processes, [seconds] * processes, [sample_every] * processes,
                              range(processes)))
    latencies = [x for p in parts for x in p["latencies"]]
    statuses: dict[str, int] = {}
    for p in parts:
        for k, v in p["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    accepted = [x for p in parts for x in p["accepted"]]
    elapsed = max(p["elapsed"] for p in parts)
    visible = [x for p in parts for x in p["visible"]]
    return {"offered": sum(p["offered"] for p in parts), "offered_rate": round(sum(p["offered"] for p in parts) / seconds, 1),
            "accepted": len(accepted), "accepted_rate": round(len(accepted) / elapsed, 1), "elapsed_s": round(elapsed, 1),
            "p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99)), "statuses": statuses,
            "client_errors": sum(p["errors"] for p in parts), "codes": accepted,
            "visible_p50_ms": ms(percentile(visible, 50)), "visible_p99_ms": ms(percentile(visible, 99)),
            "visible_samples": len(visible)}


async def account_for(run: str, codes: list[str], timeout: float = 120) -> dict:
    """Every accepted dossier in the dossier store, in the lookup's read model, and with a notification
    recorded; waits (up to `timeout`) for the pipeline to drain."""
    from pymongo import AsyncMongoClient
    from redis import asyncio as aioredis

    mongo = AsyncMongoClient(MONGODB, tz_aware=True)
    redis = aioredis.Redis.from_url(REDIS)
    counts: dict[str, int] = {}
    try:
        deadline = time.monotonic() + timeout
        while True:
            stored = seen = notified = 0
            for start in range(0, len(codes), 1000):
                chunk = codes[start:start + 1000]
                stored += await mongo[f"{run}_dossier"]["dossiers"].count_documents({"_id": {"$in": chunk}})
                seen += await redis.exists(*(f"{run}:lookup:{c}" for c in chunk))
                notified += len(await mongo[f"{run}_notification"]["messages"].distinct(
                    "dossier_code", {"dossier_code": {"$in": chunk}}))
            counts = {"in_store": stored, "in_read_model": seen, "notified": notified}
            if min(counts.values()) >= len(codes) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
    finally:
        await mongo.close()
        await redis.aclose()
    counts["lost"] = len(codes) - min(counts.values())
    return counts


# --- memory ----------------------------------------------------------------------------------

@dataclass
class MemorySampler:
    pids: dict[str, int]
    peak_mb: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            for name, pid in self.pids.items():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
                self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), round(rss_kb / 1024, 1))
            self.stop.wait(0.5)


# --- the run ---------------------------------------------------------------------------------

def token_for(gateway: str) -> str:
    r = httpx.post(f"{gateway}/auth/dev/token", json={"username": "citizen1"}, timeout=10)
    r.raise_for_status()
    return r.json()["access_token"]


def wait_until_accepting(gateway: str, token: str, timeout: float = 120) -> float:
    """After an overload, the seconds until a submission is accepted again (breakers closed, queues drained)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            r = httpx.post(f"{gateway}/api/v1/dossiers", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                           **submission_form())
            if r.status_code == 201:
                return round(time.monotonic() - started, 1)
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return float("inf")


def seed_lookup(run: str, pepper: str, count: int) -> list[tuple[str, str]]:
    asyncio.run(seed(REDIS, f"{run}:", pepper, count, progress=progress_bar(count, f"seeding {count:,} dossiers")))
    return list(dossier_codes(count))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="dossiers in the read model for target 1")
    parser.add_argument("--large", type=int, default=1_000_000, help="dossiers in the read model for target 2")
    parser.add_argument("--seconds", type=float, default=15, help="length of each lookup measurement")
    parser.add_argument("--submit-rate", type=float, default=500)
    parser.add_argument("--submit-seconds", type=float, default=60)
    parser.add_argument("--capacity-concurrency", type=int, default=16,
                        help="submitters of the closed-loop capacity measurement")
    parser.add_argument("--event-rate", type=float, default=200)
    parser.add_argument("--event-seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "bench.json")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    print(f"starting the distributed stack (logs in {logs})...", file=sys.stderr, flush=True)
    stack = stacks.distributed(logs, BENCH_ENV)
    measured: dict[str, dict] = {}
    sampler: MemorySampler | None = None
    try:
        stack.wait_ready(timeout=180)
        run = stack.run_id
        pepper = f"pepper-{run}"
        gateway, lookup = stack.gateway, stack.urls["lookup"]
        sampler = MemorySampler({name: proc.pid for name, proc in stack.procs.items()
                                 if name in ("catalog", "dossier", "lookup", "payment", "notification", "feedback", "gateway")})
        threading.Thread(target=sampler.run, daemon=True).start()

        small = seed_lookup(run, pepper, args.small)
        baseline_port = free_port()
        with server_process(baseline_port, {}, [sys.executable, str(ROOT / "loadtests" / "raw_baseline.py"),
                                                "--port", str(baseline_port), "--redis", REDIS,
                                                "--key", f"{run}:lookup:{small[0][0]}"], logs / "baseline.log") as proc:
            print(f"  0. raw baseline: {CONNECTIONS} connections for {args.seconds:g}s", file=sys.stderr, flush=True)
            before = cpu_seconds(proc.pid)
            measured["baseline"] = drive_lookups(f"http://127.0.0.1:{baseline_port}", small, "", args.seconds)
            measured["baseline"]["server_cpu_percent"] = round(100 * (cpu_seconds(proc.pid) - before) / args.seconds, 1)
        print(f"  1. lookups through the gateway over {args.small:,} dossiers", file=sys.stderr, flush=True)
        measured["lookup_small"] = drive_lookups(gateway, small, "/api/v1", args.seconds)

        large = seed_lookup(run, pepper, args.large)
        sample = random.Random(3).sample(large, min(len(large), 20_000))  # spread over the whole key space
        print(f"  2. lookups through the gateway over {args.large:,} dossiers", file=sys.stderr, flush=True)
        measured["lookup_large"] = drive_lookups(gateway, sample, "/api/v1", args.seconds)

        token = token_for(gateway)
        print(f"  3. submission capacity: {args.capacity_concurrency} submitters in a closed loop for 20s",
              file=sys.stderr, flush=True)
        measured["capacity"] = capacity_run(gateway, token, args.capacity_concurrency, 20)
        time.sleep(5)
        print(f"  3. submissions at {args.submit_rate:g}/s for {args.submit_seconds:g}s", file=sys.stderr, flush=True)
        submissions = submit_run(gateway, lookup, token, args.submit_rate, args.submit_seconds, sample_every=0)
        codes = [c for c, _ in submissions.pop("codes")]
        print(f"     accounting for {len(codes)} accepted dossiers...", file=sys.stderr, flush=True)
        submissions.update(asyncio.run(account_for(run, codes)))
        measured["submissions"] = submissions
        submissions["recovered_after_s"] = wait_until_accepting(gateway, token)

        print(f"  4. event path at {args.event_rate:g} submissions/s for {args.event_seconds:g}s", file=sys.stderr,
              flush=True)
        events = submit_run(gateway, lookup, token, args.event_rate, args.event_seconds, sample_every=5)
        events.pop("codes")
        measured["event_path"] = events
    finally:
        if sampler is not None:
            sampler.stop.set()
        stack.stop()
        print("removing the run's topics, databases and keys...", file=sys.stderr, flush=True)
        remove_namespaces([stack.run_id])  # a million seeded entries would stay in Redis
    measured["memory_peak_mb"] = sampler.peak_mb if sampler else {}
    report(args, measured)
    return 0


def report(args, m: dict) -> None:
    base, small, large = m["baseline"], m["lookup_small"], m["lookup_large"]
    sub, ev, mem, cap = m["submissions"], m["event_path"], m["memory_peak_mb"], m["capacity"]
    ratio = small["rps"] / base["rps"] if base["rps"] else 0.0
    growth = large["p50_ms"] / small["p50_ms"] if small["p50_ms"] else float("inf")
    rows = [
        ("0. raw baseline (1 Redis GET), 50 conn", "-",
         f"{base['rps']:.0f} req/s, p50 {base['p50_ms']} ms, p99 {base['p99_ms']} ms", None),
        ("1. lookup via gateway, 50 conn: req/s", "≥ 0.5 × baseline",
         f"{small['rps']:.0f} req/s = {ratio:.2f} × baseline", ratio >= 0.5),
        ("1. lookup via gateway, 50 conn: p99", "< 25 ms", f"{small['p99_ms']} ms (p50 {small['p50_ms']} ms)",
         small["p99_ms"] < 25),
        (f"2. lookup p50 at {args.large:,} vs {args.small:,}", "within 10 %",
         f"{large['p50_ms']} vs {small['p50_ms']} ms = {growth:.2f} ×", growth <= 1.10),
        (f"3. capacity: {cap['concurrency']} submitters, closed loop", "-",
         f"{cap['accepted_rate']:.0f}/s accepted, p50 {cap['p50_ms']} ms, p99 {cap['p99_ms']} ms", None),
        (f"3. submissions via gateway ({args.submit_seconds:g} s)", "≥ 500/s sustained",
         f"{sub['accepted_rate']:.0f}/s accepted of {sub['offered_rate']:.0f}/s offered", sub["accepted_rate"] >= 500),
        ("3. submissions: p99", "< 150 ms", f"{sub['p99_ms']} ms (p50 {sub['p50_ms']} ms)",
         (sub["p99_ms"] or float("inf")) < 150),
        ("3. submissions: lost", "0",
         f"{sub['lost']} of {sub['accepted']} (store {sub['in_store']}, read model {sub['in_read_model']}, "
         f"notified {sub['notified']})", sub["lost"] == 0),
        (f"4. event path at {args.event_rate:g}/s offered: p99", "< 500 ms",
         f"{ev['visible_p99_ms']} ms (p50 {ev['visible_p50_ms']} ms, {ev['visible_samples']} samples, "
         f"{ev['accepted_rate']:.0f}/s accepted)", (ev["visible_p99_ms"] or float("inf")) < 500),
        ("5. peak resident memory per service", "< 200 MB each",
         ", ".join(f"{k} {v:.0f}" for k, v in sorted(mem.items())), bool(mem) and max(mem.values()) < 200),
    ]
    width = max(len(r[0]) for r in rows) + 2
    lookups_by = m["baseline"].get("client", "Python clients")
    print(f"\nMột Cửa benchmark on this machine ({os.cpu_count()} cores; load generator on the same machine: "
          f"lookups by {lookups_by}, submissions by Python aiohttp clients)")
    print(f"{'target':<{width}}{'goal':<22}{'measured':<70}verdict")
    for name, goal, value, ok in rows:
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        print(f"{name:<{width}}{goal:<22}{value:<70}{verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": [{"target": r[0], "goal": r[1], "measured": r[2], "met": r[3]} for r in rows],
                                    "raw": m}, indent=2, default=str))
    print(f"(written to {args.out})")


if __name__ == "__main__":
    sys.exit(main())
