#!/usr/bin/env bash
# Local development infrastructure without Docker:
#   Kafka 4.1 (KRaft, single node)   127.0.0.1:${MOTCUA_KAFKA_PORT:-9092}
#   FerretDB 1.24 (MongoDB protocol)  127.0.0.1:${MOTCUA_MONGO_PORT:-27017}
#     on PostgreSQL (Debian's)         127.0.0.1:${MOTCUA_PG_PORT:-55432}
#     (MOTCUA_FERRETDB_BACKEND=sqlite: on SQLite instead, with no PostgreSQL; 10-20x slower updates)
#   Redis (Debian redis-server)      127.0.0.1:${MOTCUA_REDIS_PORT:-6379}
#
# Usage: deploy/local/infra.sh up|down|status
#        deploy/local/infra.sh down --purge   # also delete data and logs
#
# Everything fetched or built (FerretDB binary, Kafka jars) is cached outside
# the clone in ${MOTCUA_INFRA_CACHE:-$HOME/.cache/motcua}; runtime data, logs
# and pid files live in ${MOTCUA_INFRA_STATE:-/tmp/motcua-infra}.
# The first `up` builds/downloads (a few minutes); later ones take seconds, and
# `up` while everything already answers only reports.
#
# Environment:
#   MOTCUA_KAFKA_PORT (9092)  MOTCUA_KAFKA_CONTROLLER_PORT (9093)
#   MOTCUA_MONGO_PORT (27017) MOTCUA_REDIS_PORT (6379) MOTCUA_PG_PORT (55432)
#   MOTCUA_FERRETDB_BACKEND (postgresql | sqlite)
#   MOTCUA_INFRA_CACHE, MOTCUA_INFRA_STATE, MOTCUA_INFRA_TIMEOUT (120 s per server)
#   MOTCUA_KAFKA_VERSION (4.1.2), MOTCUA_KAFKA_HEAP ("-Xmx512m -Xms256m")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MOTCUA_INFRA_CACHE:-$HOME/.cache/motcua}"
STATE="${MOTCUA_INFRA_STATE:-/tmp/motcua-infra}"
HOST=127.0.0.1
KAFKA_PORT="${MOTCUA_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${MOTCUA_KAFKA_CONTROLLER_PORT:-9093}"
MONGO_PORT="${MOTCUA_MONGO_PORT:-27017}"
REDIS_PORT="${MOTCUA_REDIS_PORT:-6379}"
PG_PORT="${MOTCUA_PG_PORT:-55432}"
FERRETDB_BACKEND="${MOTCUA_FERRETDB_BACKEND:-postgresql}"
[[ "$FERRETDB_BACKEND" == postgresql || "$FERRETDB_BACKEND" == sqlite ]] ||
    { printf 'infra.sh: error: MOTCUA_FERRETDB_BACKEND must be postgresql or sqlite\n' >&2; exit 2; }
TIMEOUT="${MOTCUA_INFRA_TIMEOUT:-120}"
KAFKA_VERSION="${MOTCUA_KAFKA_VERSION:-4.1.2}"
KAFKA_HEAP="${MOTCUA_KAFKA_HEAP:--Xmx512m -Xms256m}"
FERRETDB_VERSION=1.24.2

LOGS="$STATE/logs"
RUN="$STATE/run"
FERRETDB_BIN="$CACHE/bin/ferretdb"
KAFKA_HOME="$CACHE/kafka/$KAFKA_VERSION"
KAFKA_LIB="$KAFKA_HOME/lib"

# ---------------------------------------------------------------- helpers ---

note() { printf '%s\n' "$*" >&2; }            # progress, only for slow one-time steps
die() { printf 'infra.sh: error: %s\n' "$*" >&2; exit 1; }

show_log_tail() { # file [lines]
    local f="$1" n="${2:-40}"
    if [[ -s "$f" ]]; then
        printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
        tail -n "$n" "$f" >&2
        printf -- '-----\n' >&2
    else
        printf '(log %s is empty or missing)\n' "$f" >&2
    fi
}

PYTHON=""
find_python() {
    [[ -n "$PYTHON" ]] && return 0
    local c
    for c in python3 /usr/bin/python3 python; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 7))' 2>/dev/null; then
            PYTHON="$c"; return 0
        fi
    done
    die "python3 is required for the readiness probes"
}

probe() { # kind port  -> 0 when the server answers the protocol
    find_python
    "$PYTHON" "$HERE/probe.py" "$1" "$HOST" "$2" 2>/dev/null
}

# pid of a server we started, if it is still alive (pid file + command check).
managed_pid() { # name cmdline-pattern
    local f="$RUN/$1.pid" pid
    [[ -s "$f" ]] || return 1
    pid="$(tr -dc '0-9' <"$f")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
    printf '%s\n' "$pid"
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# Start a command detached from this shell (own session, no stdin, and not
# inheriting the lock fds 8/9, which would keep infra.sh locked while it runs).
spawn() { # pidfile logfile cmd...
    local pidfile="$1" logfile="$2"; shift 2
    setsid nohup "$@" >>"$logfile" 2>&1 </dev/null 8>&- 9>&- &
    printf '%s\n' "$!" >"$pidfile"
}

file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# -------------------------------------------------------------- provision ---

ensure_redis_bin() {
    command -v redis-server >/dev/null 2>&1 && return 0
    note "redis: installing Debian package redis-server (log: $LOGS/apt.log)"
    {
        as_root apt-get update &&
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends redis-server
    } >>"$LOGS/apt.log" 2>&1 8>&- 9>&- || { show_log_tail "$LOGS/apt.log"; die "apt-get install redis-server failed"; }
    command -v redis-server >/dev/null 2>&1 || die "redis-server still not on PATH after apt-get install"
}

# PostgreSQL, FerretDB's backend: Debian's package (installed if missing), our own cluster in $STATE,
# run as the `postgres` user when this script runs as root (PostgreSQL refuses root).
pg_bin() { # tool -> path of the newest installed PostgreSQL's tool
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$dir" && -x "$dir/$1" ]] && printf '%s/%s\n' "$dir" "$1"
}

as_pg() {
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_postgres_bin() {
    pg_bin pg_ctl >/dev/null && return 0
    note "postgres: installing Debian package postgresql (log: $LOGS/apt.log)"
    {
        as_root apt-get update &&
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends postgresql
    } >>"$LOGS/apt.log" 2>&1 8>&- 9>&- || { show_log_tail "$LOGS/apt.log"; die "apt-get install postgresql failed"; }
    pg_bin pg_ctl >/dev/null || die "PostgreSQL's pg_ctl still not found after apt-get install"
}

ferretdb_ok() {
    [[ -x "$FERRETDB_BIN" ]] && "$FERRETDB_BIN" --version 2>/dev/null | grep -qx "version: v$FERRETDB_VERSION"
}

ensure_ferretdb_bin() {
    ferretdb_ok && return 0
    mkdir -p "$CACHE/bin"
    # Someone else (e.g. a manual build) may be producing the same binary: wait for it.
    local waited=0
    while pgrep -f "go build.*FerretDB/cmd/ferretdb" >/dev/null 2>&1; do
        ((waited == 0)) && note "ferretdb: another 'go build' of FerretDB is running, waiting for it"
        ((waited >= 900)) && die "a concurrent FerretDB 'go build' has been running for 15 min; stop it or retry"
        sleep 5; waited=$((waited + 5))
    done
    ferretdb_ok && return 0

    command -v go >/dev/null 2>&1 || die "Go toolchain not found: needed once to build FerretDB v$FERRETDB_VERSION"
    local dir="$CACHE/build/ferretdb-$FERRETDB_VERSION" log="$LOGS/ferretdb-build.log"
    note "ferretdb: building v$FERRETDB_VERSION once into $FERRETDB_BIN (a few minutes; log: $log)"
    exec 8>"$CACHE/.ferretdb-build.lock"
    flock 8
    if ferretdb_ok; then exec 8>&-; return 0; fi
    # `go install ...@v1.24.2` fails (the proxy refuses the module's version list,
    # needed for the deprecation check), so build from a throwaway main module.
    # The module zip lacks the generated build/version/version.txt (the binary
    # panics at start without it) and GOMODCACHE is read-only / cannot be
    # overlaid, so FerretDB is built from a writable copy with version.txt added.
    rm -rf "$dir"
    mkdir -p "$dir"
    printf 'module ferretbuild\n\ngo 1.22\n' >"$dir/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/FerretDB/FerretDB/cmd/ferretdb"\n' >"$dir/tools.go"
    # (an explicit && chain: errexit is not in force inside an `if` condition)
    if ! (
        cd "$dir" &&
        go get "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" &&
        src="$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)" &&
        cp -R "$src" ./ferretdb-src &&
        chmod -R u+w ./ferretdb-src &&
        printf 'v%s\n' "$FERRETDB_VERSION" >./ferretdb-src/build/version/version.txt &&
        go mod edit -replace=github.com/FerretDB/FerretDB=./ferretdb-src &&
        go mod tidy &&
        go build -trimpath -o "$FERRETDB_BIN.tmp" github.com/FerretDB/FerretDB/cmd/ferretdb &&
        mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
    ) >>"$log" 2>&1; then
        exec 8>&-
        show_log_tail "$log"
        die "building FerretDB v$FERRETDB_VERSION failed"
    fi
    exec 8>&-
    ferretdb_ok || die "built $FERRETDB_BIN but '--version' does not report v$FERRETDB_VERSION"
}

JAVA=""
ensure_java() {
    [[ -n "$JAVA" ]] && return 0
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then JAVA="$(command -v java)"
    else die "java not found: Kafka $KAFKA_VERSION needs a Java 17+ runtime (apt-get install openjdk-17-jre-headless)"
    fi
    local major
    major="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
    [[ "${major%%.*}" =~ ^[0-9]+$ && "${major%%.*}" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17+, $JAVA is '${major:-unknown}'"
}

ensure_kafka_lib() {
    local stamp want
    want="$KAFKA_VERSION $(sha256sum "$HERE/kafka-pom.xml" | cut -d' ' -f1)"
    stamp="$KAFKA_HOME/.complete"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$KAFKA_LIB/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found: needed once to fetch Kafka $KAFKA_VERSION jars (apt-get install maven)"
    local log="$LOGS/kafka-maven.log" tmp="$KAFKA_HOME/lib.tmp.$$"
    note "kafka: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION jars into $KAFKA_LIB (log: $log)"
    mkdir -p "$KAFKA_HOME"
    rm -rf "$tmp"
    if ! mvn -B -q -f "$HERE/kafka-pom.xml" -Dkafka.version="$KAFKA_VERSION" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >>"$log" 2>&1 \
        || [[ ! -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
        rm -rf "$tmp"
        show_log_tail "$log"
        die "could not resolve Kafka $KAFKA_VERSION with Maven"
    fi
    rm -rf "$KAFKA_LIB"
    mv "$tmp" "$KAFKA_LIB"
    printf '%s\n' "$want" >"$stamp"
}

# java with the Kafka classpath and logging set up, as an array (it is also
# handed to setsid/nohup, which cannot run shell functions).
kafka_java_cmd() {
    local -a heap
    read -r -a heap <<<"$KAFKA_HEAP"
    KAFKA_JAVA=("$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:InitiatingHeapOccupancyPercent=35 -Djava.awt.headless=true
        -Dkafka.logs.dir="$LOGS" -Dlog4j2.configurationFile="$HERE/log4j2.properties"
        -cp "$KAFKA_LIB/*")
}

# ---------------------------------------------------------------- servers ---
# Each server: prepare_X (provision binaries, only when the port does not
# answer yet; sets NEEDED[X]), start_X (launch, returns at once) and then
# wait_server X.

declare -A NEEDED=() STARTED=() LOGFILE=() LOGOFFSET=() T0=()

# A server we launched earlier that runs but does not answer yet (e.g. an `up`
# that timed out): wait for it instead of launching a second copy.
adopt_starting() { # name
    managed_pid "$1" "$(pattern_of "$1")" >/dev/null || return 1
    STARTED[$1]=1
    T0[$1]=$SECONDS
    LOGFILE[$1]="$LOGS/$1.log"
    LOGOFFSET[$1]="$(cat "$RUN/$1.logoffset" 2>/dev/null || echo 0)"
}

prepare_redis() {
    probe redis "$REDIS_PORT" && return 0
    adopt_starting redis && return 0
    probe tcp "$REDIS_PORT" && die "port $REDIS_PORT is in use but does not answer Redis PING"
    ensure_redis_bin
    NEEDED[redis]=1
}

prepare_ferretdb() {
    probe mongo "$MONGO_PORT" && return 0
    adopt_starting ferretdb && return 0
    probe tcp "$MONGO_PORT" && die "port $MONGO_PORT is in use but does not answer a MongoDB ping"
    ensure_ferretdb_bin
    NEEDED[ferretdb]=1
}

prepare_postgres() {
    [[ "$FERRETDB_BACKEND" == postgresql ]] || return 0
    probe mongo "$MONGO_PORT" && return 0  # FerretDB answers: its backend is up
    pg_ready && return 0
    adopt_starting postgres && return 0
    probe tcp "$PG_PORT" && die "port $PG_PORT is in use but is not our PostgreSQL (set MOTCUA_PG_PORT)"
    ensure_postgres_bin
    NEEDED[postgres]=1
}

pg_ready() {
    local isready
    isready="$(pg_bin pg_isready)" || return 1
    "$isready" -q -h "$HOST" -p "$PG_PORT" -U postgres 2>/dev/null
}

prepare_kafka() {
    probe kafka "$KAFKA_PORT" && return 0
    adopt_starting kafka && return 0
    probe tcp "$KAFKA_PORT" && die "port $KAFKA_PORT is in use but does not answer a Kafka ApiVersions request"
    probe tcp "$KAFKA_CONTROLLER_PORT" && die "Kafka controller port $KAFKA_CONTROLLER_PORT is already in use (set MOTCUA_KAFKA_CONTROLLER_PORT)"
    ensure_java
    ensure_kafka_lib
    NEEDED[kafka]=1
}

start_redis() {
    [[ -n "${NEEDED[redis]:-}" ]] || return 0
    # apt's postinst may have started a default instance on 6379 just now.
    if probe redis "$REDIS_PORT"; then return 0; fi
    mkdir -p "$STATE/redis"
    LOGFILE[redis]="$LOGS/redis.log"
    T0[redis]=$SECONDS
    rm -f "$RUN/redis.pid"
    redis-server --save "" --appendonly no --bind "$HOST" --port "$REDIS_PORT" \
        --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$LOGS/redis.log" \
        --dir "$STATE/redis" >>"$LOGS/redis.out" 2>&1 8>&- 9>&- || { show_log_tail "$LOGS/redis.out"; die "redis-server failed to start"; }
    STARTED[redis]=1
}

start_postgres() {
    [[ -n "${NEEDED[postgres]:-}" ]] || return 0
    local data="$STATE/postgres/data"
    mkdir -p "$STATE/postgres"
    [[ $EUID -eq 0 ]] && chown postgres:postgres "$STATE/postgres"
    touch "$LOGS/postgres.log"
    [[ $EUID -eq 0 ]] && chown postgres "$LOGS/postgres.log"
    if [[ ! -s "$data/PG_VERSION" ]]; then
        as_pg "$(pg_bin initdb)" -D "$data" -A trust -U postgres --no-sync -E UTF8 >>"$LOGS/postgres.log" 2>&1 8>&- 9>&- ||
            { show_log_tail "$LOGS/postgres.log"; die "initdb failed"; }
    fi
    LOGFILE[postgres]="$LOGS/postgres.log"
    T0[postgres]=$SECONDS
    # A test database: durability traded for speed (like Redis here, nothing persists across a crash).
    as_pg "$(pg_bin pg_ctl)" -D "$data" -l "$LOGS/postgres.log" -w -t "$TIMEOUT" \
        -o "-p $PG_PORT -k $STATE/postgres -c listen_addresses=$HOST -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >>"$LOGS/postgres.log" 2>&1 8>&- 9>&- || { show_log_tail "$LOGS/postgres.log"; die "PostgreSQL failed to start"; }
    head -n 1 "$data/postmaster.pid" >"$RUN/postgres.pid"
    STARTED[postgres]=1
    if ! as_pg "$(pg_bin psql)" -h "$HOST" -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'" | grep -q 1; then
        as_pg "$(pg_bin createdb)" -h "$HOST" -p "$PG_PORT" -U postgres ferretdb >>"$LOGS/postgres.log" 2>&1 ||
            die "createdb ferretdb failed"
    fi
}

start_ferretdb() {
    [[ -n "${NEEDED[ferretdb]:-}" ]] || return 0
    mkdir -p "$STATE/ferretdb/data"
    LOGFILE[ferretdb]="$LOGS/ferretdb.log"
    T0[ferretdb]=$SECONDS
    local backend=(--handler=sqlite --sqlite-url="file:$STATE/ferretdb/data/")
    [[ "$FERRETDB_BACKEND" == postgresql ]] &&
        backend=(--handler=postgresql --postgresql-url="postgres://postgres@$HOST:$PG_PORT/ferretdb")
    spawn "$RUN/ferretdb.pid" "$LOGS/ferretdb.log" "$FERRETDB_BIN" \
        "${backend[@]}" \
        --state-dir="$STATE/ferretdb" \
        --listen-addr="$HOST:$MONGO_PORT" \
        --debug-addr=- \
        --telemetry=disable \
        --log-level=info
    STARTED[ferretdb]=1
}

start_kafka() {
    [[ -n "${NEEDED[kafka]:-}" ]] || return 0
    local dir="$STATE/kafka" cfg new
    cfg="$dir/server.properties"
    mkdir -p "$dir"
    new="$(sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
               -e "s|@LOG_DIR@|$dir/data|g" "$HERE/server.properties.template")"
    # The controller endpoint is baked into the formatted metadata: a config
    # change (other ports) means starting from empty storage.
    if [[ ! -f "$cfg" || "$(cat "$cfg")" != "$new" ]]; then
        rm -rf "$dir/data"
        printf '%s\n' "$new" >"$cfg"
    fi
    LOGFILE[kafka]="$LOGS/kafka.log"
    kafka_java_cmd
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        rm -rf "$dir/data"
        local cluster_id
        cluster_id="$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOGS/kafka-format.log" | tail -n 1)" || true
        [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || { show_log_tail "$LOGS/kafka-format.log"; die "kafka: could not generate a cluster id"; }
        "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$cfg" >>"$LOGS/kafka-format.log" 2>&1 \
            || { show_log_tail "$LOGS/kafka-format.log"; die "kafka: formatting storage in $dir/data failed"; }
    fi
    LOGOFFSET[kafka]="$(file_size "$LOGS/kafka.log")"
    printf '%s\n' "${LOGOFFSET[kafka]}" >"$RUN/kafka.logoffset"
    T0[kafka]=$SECONDS
    spawn "$RUN/kafka.pid" "$LOGS/kafka.out" "${KAFKA_JAVA[@]}" kafka.Kafka "$cfg"
    STARTED[kafka]=1
}

# Readiness: the protocol probe answers (Kafka: and, for a broker we just
# started, "Kafka Server started" has been logged, i.e. the broker is unfenced).
ready() { # name
    case "$1" in
        redis) probe redis "$REDIS_PORT" ;;
        postgres) pg_ready ;;
        ferretdb) probe mongo "$MONGO_PORT" ;;
        kafka)
            probe kafka "$KAFKA_PORT" || return 1
            [[ -z "${STARTED[kafka]:-}" ]] && return 0
            # Not `tail | grep -q`: grep quits at the first match, tail then dies of SIGPIPE when much
            # is logged after it (thousands of partitions), and pipefail turns a match into a failure.
            grep -q "Kafka Server started" <(tail -c +"$((LOGOFFSET[kafka] + 1))" "$LOGS/kafka.log" 2>/dev/null)
            ;;
    esac
}

port_of() { case "$1" in kafka) echo "$KAFKA_PORT" ;; ferretdb) echo "$MONGO_PORT" ;; redis) echo "$REDIS_PORT" ;; postgres) echo "$PG_PORT" ;; esac; }
pattern_of() { case "$1" in kafka) echo "kafka.Kafka" ;; ferretdb) echo "ferretdb" ;; redis) echo "redis-server" ;; postgres) echo "postgres/data" ;; esac; }

wait_server() { # name -> prints the status line, returns 1 on failure
    local name="$1" port deadline
    port="$(port_of "$name")"
    if [[ -z "${STARTED[$name]:-}" ]]; then
        printf '%s %s:%s up (already running)\n' "$name" "$HOST" "$port"
        return 0
    fi
    deadline=$((T0[$name] + TIMEOUT))
    while ! ready "$name"; do
        if ((SECONDS >= deadline)); then
            printf '%s %s:%s FAILED: not ready after %ss\n' "$name" "$HOST" "$port" "$TIMEOUT"
            show_log_tail "${LOGFILE[$name]}"
            [[ "$name" == kafka ]] && show_log_tail "$LOGS/kafka.out" 15
            return 1
        fi
        # redis daemonizes; give it a moment to write its pid file before checking.
        if [[ "$name" != redis || $((SECONDS - T0[$name])) -ge 5 ]] && ! managed_pid "$name" "$(pattern_of "$name")" >/dev/null; then
            printf '%s %s:%s FAILED: process exited during startup\n' "$name" "$HOST" "$port"
            show_log_tail "${LOGFILE[$name]}"
            [[ "$name" == kafka ]] && show_log_tail "$LOGS/kafka.out" 15
            return 1
        fi
        sleep 0.5
    done
    printf '%s %s:%s up (started in %ss)\n' "$name" "$HOST" "$port" "$((SECONDS - T0[$name]))"
}

stop_server() { # name
    local name="$1" pid port waited=0 limit
    port="$(port_of "$name")"
    if ! pid="$(managed_pid "$name" "$(pattern_of "$name")")"; then
        rm -f "$RUN/$name.pid"
        if probe tcp "$port"; then
            printf '%s %s:%s not started by infra.sh (left running)\n' "$name" "$HOST" "$port"
        else
            printf '%s %s:%s not running\n' "$name" "$HOST" "$port"
        fi
        return 0
    fi
    limit=60
    # PostgreSQL: SIGINT is its fast shutdown (SIGTERM would wait for every client to leave).
    kill "-$([[ "$name" == postgres ]] && echo INT || echo TERM)" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= limit * 2)); then
            note "$name: pid $pid ignored SIGTERM for ${limit}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.5; waited=$((waited + 1))
    done
    rm -f "$RUN/$name.pid"
    printf '%s %s:%s stopped\n' "$name" "$HOST" "$port"
}

status_server() { # name -> 0 when up
    local name="$1" port kind pid
    port="$(port_of "$name")"
    case "$name" in kafka) kind=kafka ;; ferretdb) kind=mongo ;; redis) kind=redis ;; postgres) kind=tcp ;; esac
    pid="$(managed_pid "$name" "$(pattern_of "$name")" || true)"
    if [[ "$name" == postgres && "$FERRETDB_BACKEND" != postgresql ]]; then
        printf 'postgres not used (MOTCUA_FERRETDB_BACKEND=%s)\n' "$FERRETDB_BACKEND"
        return 0
    fi
    if probe "$kind" "$port"; then
        if [[ -n "$pid" ]]; then
            printf '%s %s:%s up (pid %s)\n' "$name" "$HOST" "$port" "$pid"
        else
            printf '%s %s:%s up (not started by infra.sh)\n' "$name" "$HOST" "$port"
        fi
        return 0
    elif [[ -n "$pid" ]]; then
        printf '%s %s:%s starting or unhealthy (pid %s, not answering; log %s)\n' "$name" "$HOST" "$port" "$pid" "$LOGS"
    else
        printf '%s %s:%s down\n' "$name" "$HOST" "$port"
    fi
    return 1
}

# -------------------------------------------------------------- commands ---

SERVERS=(redis postgres ferretdb kafka)

lock_state() {
    mkdir -p "$STATE" "$LOGS" "$RUN"
    exec 9>"$STATE/.lock"
    flock -w 600 9 || die "another infra.sh is running on $STATE"
}

cmd_up() {
    lock_state
    mkdir -p "$CACHE"
    local name rc=0
    # Provision (slow only the first time), launch everything, then wait.
    for name in "${SERVERS[@]}"; do "prepare_$name"; done
    # Kafka first: its launch includes storage formatting (two short JVM runs). FerretDB after
    # PostgreSQL, its backend, has started (pg_ctl -w waits for it).
    for name in kafka redis postgres ferretdb; do "start_$name"; done
    for name in "${SERVERS[@]}"; do
        [[ "$name" == postgres && "$FERRETDB_BACKEND" != postgresql ]] && continue
        wait_server "$name" || rc=1
    done
    ((rc == 0)) || die "some servers failed to start (logs in $LOGS; 'infra.sh down' stops the rest)"
}

cmd_down() {
    local purge=0
    [[ "${1:-}" == "--purge" ]] && purge=1
    [[ -d "$STATE" ]] || { for name in kafka ferretdb postgres redis; do stop_server "$name"; done; return 0; }
    lock_state
    local name
    for name in kafka ferretdb postgres redis; do stop_server "$name"; done
    if ((purge)); then
        rm -rf "$STATE/kafka" "$STATE/ferretdb" "$STATE/postgres" "$STATE/redis" "$LOGS"
        echo "purged data and logs in $STATE"
    fi
}

cmd_status() {
    local name rc=0
    for name in "${SERVERS[@]}"; do status_server "$name" || rc=3; done
    return "$rc"
}

case "${1:-}" in
    up) cmd_up ;;
    down) shift; cmd_down "$@" ;;
    status) cmd_status ;;
    -h|--help|help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "usage: $0 up|down [--purge]|status" >&2; exit 2 ;;
esac
