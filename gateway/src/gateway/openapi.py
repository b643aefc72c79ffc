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
        doc = _namespaced(name, doc, merged["components"]["schemas"])
        for path, item in doc.get("paths", {}).items():
            if path.startswith("/health"):
                continue
            merged["paths"][PREFIX + path] = item
        merged["components"]["schemas"].update(doc.get("components", {}).get("schemas", {}))
    return merged


def _namespaced(service: str, doc: dict, taken: dict[str, dict]) -> dict:
    """The service's document with its schema names made unique in the merge: a name another service
    already uses for a different schema (several have an `Attachment`) becomes `<Service><Name>`, with
    every `$ref` to it rewritten; operation ids are prefixed with the service, so none collide either."""
    schemas = doc.get("components", {}).get("schemas", {})
    renames = {n: f"{service.capitalize()}{n}" for n, schema in schemas.items() if n in taken and taken[n] != schema}
    prefix = "#/components/schemas/"

    def walk(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and value.startswith(prefix):
                    target = value[len(prefix):]
                    out[key] = prefix + renames.get(target, target)
                elif key == "operationId" and isinstance(value, str):
                    out[key] = f"{service}_{value}"
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    renamed = walk(doc)
    renamed.setdefault("components", {})["schemas"] = {renames.get(n, n): walk(schema)
                                                      for n, schema in schemas.items()}
    return renamed
