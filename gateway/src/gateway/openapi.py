"""One OpenAPI document for the public API, merged from the services' own documents."""

import asyncio
import logging

import aiohttp

log = logging.getLogger("gateway.openapi")
PREFIX = "/api/v1"


async def merged_openapi(upstreams: dict[str, str], own: dict) -> dict:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async def fetch(name: str, url: str) -> tuple[str, dict | None]:
            try:
                async with session.get(f"{url.rstrip('/')}/openapi.json") as answer:
                    return name, await answer.json() if answer.status == 200 else None
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return name, None

        documents = await asyncio.gather(*(fetch(n, u) for n, u in upstreams.items()))
    merged = {"openapi": "3.1.0",
              "info": {"title": "Một Cửa public API", "version": "1.0.0",
                       "description": "Every route through the gateway. Errors are RFC 9457 problem+json."},
              "paths": {k: v for k, v in own.get("paths", {}).items()},
              "components": {"schemas": dict(own.get("components", {}).get("schemas", {})),
                             "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
              "x-unavailable": []}
    for name, doc in documents:
        if doc is None:
            merged["x-unavailable"].append(name)
            continue
        for path, item in doc.get("paths", {}).items():
            if path.startswith("/health"):
                continue
            merged["paths"][PREFIX + path] = item
        merged["components"]["schemas"].update(doc.get("components", {}).get("schemas", {}))
    return merged
