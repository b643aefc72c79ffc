"""Benchmark: status lookup throughput and latency, 50 concurrent connections, on this machine.

    make bench        (or: uv run python loadtests/bench_lookup.py [--dossiers 10000] [--seconds 15]
                                                                   [--connections 50] [--client auto|wrk|python|both])

Starts the lookup process (`python -m dossier.lookup`: uvicorn, one worker), and the gateway in front of
it (`python -m gateway`, one worker; `--no-gateway` to skip), both measured in the same run, on the real Redis
if it answers, seeds its read model with one `submitted` event per dossier applied by the lookup's own
projection, then sends valid lookups (GET by QR link and POST, half each) with a share of wrong
security codes. The load comes from wrk when installed (`apt-get install wrk`), else from Python
client processes, which on a 2-core machine compete with the server for CPU: the server's own CPU use
is printed too, so one can tell which side was the bottleneck. Prints requests/s and p50/p99, and
writes them as JSON. Without Redis the lookup runs on the in-memory cache, composed by this script
(`--serve-memory`), since a separate process's memory cannot be seeded from here."""

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from contracts import build
from contracts.dossier import DossierSubmitted
from dossier.lookup.projection import LookupProjection
from dossier.security import ALPHABET, hash_security_code
from kit.bus.memory import MemoryBus
from kit.cache import Cache
from kit.cache.memory import MemoryCache
from kit.cache.redis import RedisCache
from kit.events import CloudEvent, utcnow

PEPPER = "bench-pepper"
# Settings that lift the gateway's rate limits for the benchmark (names from gateway/settings.py).
BENCH_GATEWAY_LIMITS: dict[str, str] = {"MOTCUA_RATE_LIMITS": "false"}
REDIS = os.environ.get("MOTCUA_REDIS_URL", "redis://127.0.0.1:6379/0")
WRK_SCRIPT = r"""
requests, statuses = {}, {}  -- globals: done() reads each thread's statuses with thread:get
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method == "POST" then
      requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
    else
      requests[#requests + 1] = wrk.format("GET", path)
    end
  end
  math.randomseed(os.time() + #threads)
end
function request() return requests[math.random(#requests)] end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(counts) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
  io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"socket_errors": %d, "statuses": {%s}}\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", ")))
end
"""


# --- the read model ------------------------------------------------------------------------

def dossiers(count: int) -> list[tuple[str, str]]:
    """(dossier code, security code) pairs; codes shaped as the real ones, agency-yymmdd-sequence."""
    rng = random.Random(42)
    return [(f"000.00.21.H49-{260101 + n // 9999:06d}-{n % 9999 + 1:04d}", "".join(rng.choices(ALPHABET, k=8)))
            for n in range(count)]


def submitted(code: str, security_code: str) -> CloudEvent:
    at = utcnow()
    data = DossierSubmitted(code=code, sequence=1, action="submit_online", state="submitted", status_code=1,
                            procedure_code="1.000894", procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49",
                            channel="online", occurred_at=at, due_at=at + timedelta(hours=8),
                            security_code_hash=hash_security_code(PEPPER, code, security_code),
                            result_channel="online")
    return build(data, source="/bench", subject=code)


async def seed(cache: Cache, pairs: list[tuple[str, str]]) -> None:
    projection = LookupProjection(cache)
    for start in range(0, len(pairs), 50):  # distinct dossiers: safe side by side (within the pool)
        await asyncio.gather(*(projection.apply(submitted(c, s)) for c, s in pairs[start:start + 50]))
        if (start + 50) % 2000 == 0 or start + 50 >= len(pairs):
            print(f"\r  seeding the read model: {min(start + 50, len(pairs))}/{len(pairs)}",
                  end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def redis_answers() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_timeout=1, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


def serve_memory(port: int, count: int) -> None:
    """The fallback server: the lookup app on an in-memory cache this process seeds itself."""
    from dossier.lookup.app import create_app
    from dossier.settings import LookupSettings
    from kit.http import serve

    settings = LookupSettings(port=port, cache="memory", bus="memory")
    cache = MemoryCache()
    asyncio.run(seed(cache, dossiers(count)))
    serve(create_app(settings, bus=MemoryBus(), cache=cache), settings)


# --- the server process ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server_process(port: int, env: dict[str, str], command: list[str], log: Path):
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{command[-1]} exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{command[-1]} did not get ready:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- the load --------------------------------------------------------------------------------

def request_lines(pairs: list[tuple[str, str]], wrong_share: float, prefix: str = "") -> list[str]:
    """One request a line: method, path, body (tab separated); a share of them with a wrong code.
    `prefix` is the API's base path (`/api/v1` through the gateway)."""
    rng = random.Random(7)
    lines = []
    for i, (code, security_code) in enumerate(pairs):
        if rng.random() < wrong_share:
            security_code = "".join(rng.choices(ALPHABET, k=8))
        if i % 2:
            lines.append(f"GET\t{prefix}/lookup/{code}?security_code={security_code}")
        else:
            lines.append(f"POST\t{prefix}/lookup\t{json.dumps({'code': code, 'security_code': security_code})}")
    return lines


def run_wrk(url: str, lines_file: Path, connections: int, seconds: float, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        run = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s",
                              "-s", script.name, url, "--", str(lines_file)], capture_output=True, text=True)
    finally:
        os.unlink(script.name)
    if run.returncode != 0 or "RESULT " not in run.stdout:
        raise SystemExit(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    out = run.stdout
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    result["client"] = f"wrk ({threads} threads)"
    return result


def _python_worker(url: str, lines: list[str], connections: int, seconds: float, seed_: int) -> tuple[list, dict, int]:
    import aiohttp

    async def main() -> tuple[list, dict, int]:
        rng = random.Random(seed_)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        errors = 0
        stop_at = time.perf_counter() + seconds

        async def user(session: aiohttp.ClientSession) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                method, path, *body = rng.choice(lines).split("\t")
                started = time.perf_counter()
                try:
                    async with session.request(method, url + path, data=body[0] if body else None,
                                               headers={"Content-Type": "application/json"} if body else None) as r:
                        await r.read()
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
            await asyncio.gather(*(user(session) for _ in range(connections)))
        return latencies, statuses, errors

    return asyncio.run(main())


def run_python(url: str, lines: list[str], connections: int, seconds: float, processes: int) -> dict:
    shares = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    started = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        parts = list(pool.map(_python_worker, [url] * processes, [lines] * processes, shares,
                              [seconds] * processes, range(processes)))
    elapsed = time.perf_counter() - started
    latencies = sorted(x for part in parts for x in part[0])
    statuses: dict[str, int] = {}
    for part in parts:
        for status, n in part[1].items():
            statuses[str(status)] = statuses.get(str(status), 0) + n

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 3) if latencies else 0.0

    return {"requests": len(latencies), "seconds": round(min(elapsed, seconds + 1), 3), "p50_ms": pct(50),
            "p99_ms": pct(99), "socket_errors": sum(p[2] for p in parts), "statuses": statuses,
            "client": f"python aiohttp ({processes} processes)"}


def drive(client: str, url: str, lines: list[str], lines_file: Path, args, pid: int) -> dict:
    before = cpu_seconds(pid)
    if client == "wrk":
        result = run_wrk(url, lines_file, args.connections, args.seconds, threads=2)
    else:
        result = run_python(url, lines, args.connections, args.seconds, processes=2)
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    used = cpu_seconds(pid) - before
    result["server_cpu_percent"] = round(100 * used / result["seconds"], 1)
    # CPU per answer: what one worker core buys, whatever else the machine was doing meanwhile.
    result["server_cpu_us_per_request"] = round(1e6 * used / max(1, result["requests"]))
    return result


# --- main ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--wrong-share", type=float, default=0.1, help="share of lookups with a wrong security code")
    parser.add_argument("--client", choices=["auto", "wrk", "python", "both"], default="auto",
                        help="auto: wrk when installed, else Python processes")
    parser.add_argument("--out", type=Path, default=Path("var/bench/lookup.json"))
    parser.add_argument("--no-gateway", dest="gateway", action="store_false",
                        help="only the lookup process, not also through the gateway")
    parser.add_argument("--serve-memory", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_memory:
        serve_memory(args.serve_memory, args.dossiers)
        return

    have_wrk = shutil.which("wrk") is not None
    clients = {"auto": ["wrk" if have_wrk else "python"], "both": ["wrk", "python"]}.get(args.client, [args.client])
    if "wrk" in clients and not have_wrk:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    pairs = dossiers(args.dossiers)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"MOTCUA_PORT": str(port), "MOTCUA_SECURITY_PEPPER": PEPPER, "MOTCUA_BUS": "memory",
           "MOTCUA_LOG_LEVEL": "INFO", "MOTCUA_OTEL_EXPORTER": "none"}
    with tempfile.TemporaryDirectory() as tmp:
        cleanup = None
        if redis_answers():
            prefix = f"bench-{uuid.uuid4().hex[:8]}:"
            cache = RedisCache(REDIS, prefix=prefix)

            async def seed_redis() -> None:
                await cache.start()
                await seed(cache, pairs)
                await cache.stop()

            async def drop_redis() -> None:
                await cache.start()
                await cache.delete_prefix("")
                await cache.stop()

            asyncio.run(seed_redis())
            cleanup = drop_redis
            env.update(MOTCUA_CACHE="redis", MOTCUA_REDIS_URL=REDIS, MOTCUA_CACHE_PREFIX=prefix)
            command = [sys.executable, "-m", "dossier.lookup"]
            where = f"python -m dossier.lookup, uvicorn, 1 worker, Redis at {REDIS}"
        else:
            print(f"Redis is not answering at {REDIS}: using the in-memory cache instead", file=sys.stderr)
            command = [sys.executable, __file__, "--serve-memory", str(port), "--dossiers", str(args.dossiers)]
            where = "the lookup app on the in-memory cache (Redis not answering), uvicorn, 1 worker"
        results = []
        gateway_port = free_port()
        gateway_env = {"MOTCUA_PORT": str(gateway_port), "MOTCUA_LOOKUP_URL": url, "MOTCUA_LOG_LEVEL": "INFO",
                       "MOTCUA_OTEL_EXPORTER": "none", "MOTCUA_CACHE": env.get("MOTCUA_CACHE", "memory"),
                       "MOTCUA_REDIS_URL": REDIS, "MOTCUA_CACHE_PREFIX": f"bench-gw-{uuid.uuid4().hex[:8]}:",
                       # The benchmark measures the proxy path, not the limits that protect it.
                       **BENCH_GATEWAY_LIMITS}
        try:
            with server_process(port, env, command, Path(tmp, "lookup.log")) as proc, contextlib.ExitStack() as stack:
                targets = [("lookup process, direct", url, "", proc.pid)]
                if args.gateway:
                    gateway = stack.enter_context(server_process(
                        gateway_port, gateway_env, [sys.executable, "-m", "gateway"], Path(tmp, "gateway.log")))
                    targets.append(("through the gateway", f"http://127.0.0.1:{gateway_port}", "/api/v1", gateway.pid))
                for target, base, prefix, pid in targets:
                    lines = request_lines(pairs, args.wrong_share, prefix)
                    lines_file = Path(tmp, f"requests{len(results)}.tsv")
                    lines_file.write_text("\n".join(lines) + "\n")
                    for line in lines[:200]:  # warm up
                        method, path, *body = line.split("\t")
                        httpx.request(method, base + path, content=body[0] if body else None,
                                      headers={"Content-Type": "application/json"})
                    for client in clients:
                        print(f"  {target}: {args.connections} connections for {args.seconds:g}s with "
                              f"{client}...", file=sys.stderr, flush=True)
                        result = drive(client, base, lines, lines_file, args, pid)
                        result["target"] = target
                        results.append(result)
        finally:
            if cleanup is not None:
                asyncio.run(cleanup())
    report = {"benchmark": "status lookup", "server": where, "dossiers": args.dossiers,
              "connections": args.connections, "wrong_share": args.wrong_share, "runs": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))

    print(f"\nStatus lookup over {args.dossiers} dossiers, {args.connections} connections, "
          f"{args.wrong_share:.0%} wrong codes (this machine, {os.cpu_count()} cores)")
    print(f"server: {where}")
    print(f"{'target':<26}{'client':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'server CPU':>12}{'CPU/req':>10}"
          "  statuses")
    for r in results:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        errors = f", socket errors: {r['socket_errors']}" if r["socket_errors"] else ""
        print(f"{r['target']:<26}{r['client']:<22}{r['rps']:>9}{r['p50_ms']:>9}{r['p99_ms']:>9}"
              f"{r['server_cpu_percent']:>11}%{r['server_cpu_us_per_request']:>7} µs  {statuses}{errors}")
    print("(server CPU is the measured process's: the lookup direct, the gateway's own through it; near 100%\n"
          " means that single worker was the bottleneck. Through the gateway both run on the same 2 cores.)")
    print(f"(written to {args.out})")


if __name__ == "__main__":
    main()
