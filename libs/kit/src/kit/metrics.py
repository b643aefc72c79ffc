"""Platform metrics: one set of OpenTelemetry instruments, read two ways: as Prometheus text on each
service's `/metrics` (pulled) and, when settings ask for it, pushed over OTLP with the traces.

The meter provider is process-wide and set up once (the embedded mode runs every service in one
process); every instrument below is created from it on first use. Labels never carry personal data or
a path's raw value: routes are the app's templates, topics and groups are the platform's own names."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import cache

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = logging.getLogger("kit.metrics")

# Request latencies of this platform run from a millisecond (a cached lookup) to seconds (an intake with files).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST

_provider: MeterProvider | None = None


def setup_metrics(service_name: str, exporter: str = "none", endpoint: str = "",
                  export_seconds: float = 15.0) -> MeterProvider:
    """Install the process-wide meter provider once: the Prometheus reader always (it serves `/metrics`),
    the OTLP one when `exporter` is "otlp". The service's name travels as the `service_name` label."""
    global _provider
    if _provider is not None:
        return _provider
    readers: list[MetricReader] = [PrometheusMetricReader(
        resource_attribute_filter=lambda key: key == "service.name", scope_info_enabled=False)]
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"),
                                                     export_interval_millis=export_seconds * 1000))
    _provider = MeterProvider(
        resource=Resource.create({"service.name": service_name}), metric_readers=readers,
        views=[View(instrument_type=Histogram, aggregation=ExplicitBucketHistogramAggregation(LATENCY_BUCKETS))])
    metrics.set_meter_provider(_provider)
    return _provider


@cache
def instruments() -> "Instruments":
    if _provider is None:  # a test or a tool that did not configure: Prometheus only, default name
        setup_metrics("motcua")
    return Instruments(metrics.get_meter("motcua"))


class Instruments:
    """The named metrics of DESIGN.md's observability section (Prometheus names in the comments)."""

    def __init__(self, meter: metrics.Meter):
        # motcua_http_server_requests_total{service,method,route,status}
        self.requests = meter.create_counter("motcua.http.server.requests", description="HTTP requests answered")
        # motcua_http_server_duration_seconds_bucket{service,method,route}
        self.duration = meter.create_histogram("motcua.http.server.duration", unit="s",
                                               description="Time to answer an HTTP request")
        # motcua_events_published_total{topic}
        self.published = meter.create_counter("motcua.events.published", description="Events accepted by the broker")
        # motcua_events_consumed_total{topic,group,outcome}: outcome is "handled" or "dead_lettered"
        self.consumed = meter.create_counter("motcua.events.consumed", description="Events a consumer group finished")
        # motcua_events_retries_total{topic,group}
        self.retries = meter.create_counter("motcua.events.retries", description="Handler attempts that failed and were retried")
        # motcua_events_dead_lettered_total{topic,group}
        self.dead_lettered = meter.create_counter("motcua.events.dead_lettered",
                                                  description="Events parked on <topic>.dlq after their retries")
        # motcua_consumer_lag{topic,group,partition}
        self.lag = meter.create_gauge("motcua.consumer.lag", description="Events in a partition not yet consumed by the group")
        # motcua_outbox_backlog{collection}
        self.outbox = meter.create_gauge("motcua.outbox.backlog",
                                         description="Aggregates whose events are written but not yet published")
        # motcua_dossiers{state}, motcua_dossiers_overdue
        self.dossiers = meter.create_gauge("motcua.dossiers", description="Dossiers by state")
        self.overdue = meter.create_gauge("motcua.dossiers.overdue",
                                          description="Open dossiers past their due date (paused ones excepted)")
        # motcua_gateway_shed_total{upstream}: requests the gateway refused (503) for an upstream's in-flight bound
        self.shed = meter.create_counter("motcua.gateway.shed", description="Requests shed by the gateway, per upstream")
        # motcua_metrics_scrapes_total: also makes a process that has done nothing yet name itself (target_info)
        self.scrapes = meter.create_counter("motcua.metrics.scrapes", description="Answers of /metrics")


Refresher = Callable[[], Awaitable[None]]
_refreshers: list[Refresher] = []
_last_refresh: dict[int, float] = {}
REFRESH_TIMEOUT_SECONDS = 3.0
# Scrapes closer together than this reuse the gauges' values: each refresh is a pass over a collection.
MIN_REFRESH_SECONDS = 5.0


def on_scrape(refresh: Refresher) -> None:
    """Run `refresh` (it sets gauges read from a store) before each `/metrics` answer."""
    _refreshers.append(refresh)


def forget_refresher(refresh: Refresher) -> None:
    if refresh in _refreshers:
        _refreshers.remove(refresh)
    _last_refresh.pop(id(refresh), None)


async def refresh_all() -> None:
    """Bring every store-read gauge up to date."""
    for refresh in list(_refreshers):
        await refresh_gauges(refresh)


async def refresh_gauges(refresh: Refresher, *, min_interval: float = MIN_REFRESH_SECONDS) -> None:
    """Run one refresher unless it ran within `min_interval` (a scrape and the timer share it); one that
    fails or is slow keeps its gauges' last values."""
    now = asyncio.get_running_loop().time()
    if now - _last_refresh.get(id(refresh), float("-inf")) < min_interval:
        return
    _last_refresh[id(refresh)] = now
    try:
        await asyncio.wait_for(refresh(), timeout=REFRESH_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("a metrics refresher failed (%s); its gauges keep their last value", type(exc).__name__)


async def prometheus_text() -> bytes:
    await refresh_all()
    instruments().scrapes.add(1)
    return generate_latest(REGISTRY)
