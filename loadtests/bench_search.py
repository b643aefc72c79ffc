"""Benchmark: catalogue search latency over 2,000 procedures on this machine.

    make bench        (or: uv run python loadtests/bench_search.py [--procedures 2000] [--requests 2000])

Serves the real catalogue (SQLite store, as in the embedded mode) with uvicorn on loopback, fills it
with procedures derived from the seed data, and times searches through HTTP, one client, one at a
time; also times the in-memory index alone. Prints p50/p95/p99 and writes them as JSON."""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from catalog.app import create_app
from catalog.domain import ProcedureDraft, new_procedure
from catalog.handlers import Catalog
from catalog.seed import load
from catalog.settings import CatalogSettings
from kit.bus.memory import MemoryBus
from kit.events import utcnow
from kit.testing import running_server

PLACES = ["Hạ Long", "Cẩm Phả", "Uông Bí", "Móng Cái", "Quảng Yên", "Đông Triều", "Vân Đồn", "Cô Tô", "Tiên Yên",
          "Bình Liêu", "Đầm Hà", "Hải Hà", "Ba Chẽ", "Hoành Bồ", "Bãi Cháy", "Hồng Gai", "Cao Xanh", "Hà Tu",
          "Giếng Đáy", "Tuần Châu", "Hùng Thắng"]
QUERIES = ["dang ky ket hon", "Đăng ký khai sinh", "giay phep xay dung", "doanh nghiep", "chung thuc ban sao",
           "1.000894", "2.0016", "dat dai", "cap lai", "ho tich ha long", "thanh lap", "le phi", "mong cai",
           "giay phep lai xe", "ly lich tu phap"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 3), "p95_ms": round(percentile(values, 95), 3),
            "p99_ms": round(percentile(values, 99), 3), "mean_ms": round(statistics.fmean(values), 3)}


async def fill(catalog: Catalog, count: int) -> None:
    seeds = load("procedures.json")
    for n in range(count):
        i = len(seeds) + n  # the seeds themselves are already there: add variants of them
        base = seeds[i % len(seeds)]
        variant = i // len(seeds)
        item = {**base, "code": f"9.{i:06d}", "name_vi": f"{base['name_vi']} tại {PLACES[variant % len(PLACES)]}"}
        procedure = new_procedure(ProcedureDraft.model_validate(item))
        await catalog.store.add(procedure, procedure.publish(at=utcnow()))
        if n % 200 == 0:
            print(f"\r  filling the catalogue: {n}/{count}", end="", file=sys.stderr, flush=True)
    print(f"\r  filling the catalogue: {count}/{count}", file=sys.stderr)


async def run(procedures: int, requests: int, out: Path) -> dict:
    with tempfile.TemporaryDirectory() as data:
        settings = CatalogSettings(sqlite_dir=Path(data), seed_demo=True, log_level="WARNING")
        bus = MemoryBus()
        app = create_app(settings, bus=bus)
        async with running_server(app) as url:
            catalog: Catalog = app.state.catalog
            existing = len(await catalog.store.all())
            if procedures > existing:
                await fill(catalog, procedures - existing)
            total = len(await catalog.store.all())
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                await client.get("/procedures", params={"q": "warm up"})  # builds the index once
                http_ms = []
                for i in range(requests):
                    started = time.perf_counter()
                    r = await client.get("/procedures", params={"q": QUERIES[i % len(QUERIES)], "limit": 20})
                    http_ms.append((time.perf_counter() - started) * 1000)
                    assert r.status_code == 200
            index, _ = await catalog._index()
            index_ms = []
            for i in range(requests):
                started = time.perf_counter()
                index.search(QUERIES[i % len(QUERIES)])
                index_ms.append((time.perf_counter() - started) * 1000)
        await bus.stop()
    result = {"benchmark": "catalogue search", "procedures": total, "requests": requests,
              "http_sequential": summary(http_ms), "index_only": summary(index_ms)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("var/bench/search.json"))
    args = parser.parse_args()
    r = asyncio.run(run(args.procedures, args.requests, args.out))
    print(f"\nCatalogue search over {r['procedures']} procedures, {r['requests']} queries (this machine)")
    print(f"{'path':<28}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name in ("http_sequential", "index_only"):
        s = r[name]
        print(f"{name:<28}{s['p50_ms']:>10}{s['p95_ms']:>10}{s['p99_ms']:>10}{s['mean_ms']:>10}")
    print(f"(written to {args.out})")


if __name__ == "__main__":
    main()
