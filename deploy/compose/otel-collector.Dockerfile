# syntax=docker/dockerfile:1
# The OpenTelemetry collector (contrib) for docker-compose.yml, on BusyBox so a health check can run:
# the upstream image is built FROM scratch (no shell, no wget), and Compose's health checks run inside
# the container. The collector is one static Go binary; nothing else is added.
ARG COLLECTOR_IMAGE=otel/opentelemetry-collector-contrib:0.131.0
ARG BUSYBOX_IMAGE=busybox:1.37.0-musl

FROM ${COLLECTOR_IMAGE} AS collector

FROM ${BUSYBOX_IMAGE}
COPY --from=collector /otelcol-contrib /otelcol-contrib
USER 10001:10001
EXPOSE 4317 4318 8889 13133
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=6 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:13133/"]
ENTRYPOINT ["/otelcol-contrib"]
CMD ["--config=/etc/otelcol/config.yaml"]
