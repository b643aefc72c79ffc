"""A deployable run as operators run it (`python -m catalog`, MOTCUA_OTEL_EXPORTER=otlp) pushes its traces
and its metrics over OTLP/HTTP to the endpoint from settings. The collector here is a real HTTP server
that speaks OTLP/HTTP (protobuf bodies on /v1/traces and /v1/metrics), as a collector does."""

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from kit.testing import free_port

from .helpers import until

pytestmark = [pytest.mark.e2e]


class Collector(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Receive)
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.traces: list[ExportTraceServiceRequest] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.headers["Content-Type"] == "application/x-protobuf"
        if self.path == "/v1/metrics":
            self.server.metrics.append(ExportMetricsServiceRequest.FromString(body))
        elif self.path == "/v1/traces":
            self.server.traces.append(ExportTraceServiceRequest.FromString(body))
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def service_names(resource_items) -> set[str]:
    return {a.value.string_value for item in resource_items for a in item.resource.attributes if a.key == "service.name"}


def request_count(collector: Collector, route: str) -> float:
    """The latest cumulative value of motcua.http.server.requests for `route` (status 200)."""
    latest = 0.0
    for export in collector.metrics:
        for resource in export.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != "motcua.http.server.requests":
                        continue
                    for point in metric.sum.data_points:
                        labels = {a.key: a.value.string_value for a in point.attributes}
                        if labels.get("route") == route and labels.get("status") == "200":
                            latest = max(latest, point.as_int or point.as_double)
    return latest


def test_a_deployable_pushes_traces_and_metrics_to_the_otlp_endpoint_from_settings(tmp_path):
    collector = Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    port = free_port()
    env = {**os.environ, "MOTCUA_PORT": str(port), "MOTCUA_STORE": "sqlite", "MOTCUA_BUS": "memory",
           "MOTCUA_SQLITE_DIR": str(tmp_path), "MOTCUA_SEED_DEMO": "true",
           "MOTCUA_OTEL_EXPORTER": "otlp", "MOTCUA_OTEL_ENDPOINT": collector.url,
           "MOTCUA_OTEL_METRICS_EXPORT_SECONDS": "1"}
    log = open(tmp_path / "catalog.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "catalog"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        until(lambda: _answers(base), timeout=60)
        for _ in range(3):
            assert httpx.get(f"{base}/procedures?limit=2", timeout=10).status_code == 200

        until(lambda: request_count(collector, "/procedures") >= 3, timeout=30)
        assert service_names(r for e in collector.metrics for r in e.resource_metrics) == {"catalog"}
        until(lambda: any(span.name.startswith("GET /procedures")
                          for e in collector.traces for r in e.resource_spans
                          for s in r.scope_spans for span in s.spans), timeout=30)
        assert service_names(r for e in collector.traces for r in e.resource_spans) == {"catalog"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        collector.shutdown()
        log.close()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
