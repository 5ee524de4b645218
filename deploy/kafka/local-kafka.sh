#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) for
# development, the demo and the test suite.
#
#   deploy/kafka/local-kafka.sh start    fetch jars (once), format, start, wait
#   deploy/kafka/local-kafka.sh stop     stop the broker this script started
#   deploy/kafka/local-kafka.sh status   exit 0 when the broker accepts connections
#   deploy/kafka/local-kafka.sh logs     tail the broker log
#   deploy/kafka/local-kafka.sh reset    stop and delete the data directory
#
# Environment (all optional):
#   KAFKA_PORT           client listener port              (default 9092)
#   KAFKA_CONTROLLER_PORT controller listener port          (default KAFKA_PORT+1)
#   KAFKA_HOME_DIR       cache for jars, data, logs, pid    (default ~/.cache/homerec/kafka)
#   KAFKA_LIBS_DIR       jar cache (share it between homes) (default KAFKA_HOME_DIR/libs-VERSION)
#   KAFKA_VERSION        org.apache.kafka:kafka_2.13 version (default from pom.xml)
#   KAFKA_HEAP_OPTS      JVM heap                           (default -Xms256m -Xmx1g)
#   KAFKA_EXTRA_PROPERTIES  file whose lines are appended to server.properties
#                        (used by the SASL_SSL test for extra listeners)
#   KAFKA_START_TIMEOUT  seconds to wait for the broker     (default 90)
#
# Needs Java 17+ and Maven (both from Debian: openjdk-17-jre-headless, maven).
# Without them use `docker compose up` (see README).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${KAFKA_PORT:-9092}"
cport="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
version="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")}"
home="${KAFKA_HOME_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/homerec/kafka}"
libs="${KAFKA_LIBS_DIR:-$home/libs-$version}"
inst="$home/node-$port"
data="$inst/data"
pidfile="$inst/kafka.pid"
logfile="$inst/kafka.out"
timeout="${KAFKA_START_TIMEOUT:-90}"

log() { printf 'local-kafka: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() {
  # bash's /dev/tcp: no nc needed
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

fetch_jars() {
  if [[ -f "$libs/.complete" ]]; then return 0; fi
  command -v java >/dev/null || die "java not found: install Java 17+ (Debian: apt-get install openjdk-17-jre-headless) or use docker compose"
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven) or use docker compose"
  log "fetching org.apache.kafka:kafka_2.13:$version and its dependencies into $libs"
  mkdir -p "$libs"
  mvn -B -q -f "$here/pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" \
    || die "maven could not resolve the Kafka jars (see output above)"
  touch "$libs/.complete"
}

write_config() {
  mkdir -p "$inst"
  cat >"$inst/server.properties" <<PROPS
# written by local-kafka.sh; edits are overwritten on start
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:$cport
listeners=PLAINTEXT://localhost:$port,CONTROLLER://localhost:$cport
advertised.listeners=PLAINTEXT://localhost:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=168
log.segment.bytes=67108864
log.cleaner.dedupe.buffer.size=16777216
message.max.bytes=4194304
PROPS
  if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
    [[ -f "$KAFKA_EXTRA_PROPERTIES" ]] || die "KAFKA_EXTRA_PROPERTIES=$KAFKA_EXTRA_PROPERTIES is not a file"
    # later keys win in java.util.Properties, so extra lines override the defaults above
    cat "$KAFKA_EXTRA_PROPERTIES" >>"$inst/server.properties"
  fi
  cp "$here/log4j2.properties" "$inst/log4j2.properties"
}

format_storage() {
  [[ -f "$data/meta.properties" ]] && return 0
  local cid
  cid="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  [[ -n "$cid" ]] || die "StorageTool random-uuid failed"
  log "formatting KRaft storage in $data (cluster $cid)"
  java -cp "$libs/*" -Dlog4j2.configurationFile="$inst/log4j2.properties" -Dkafka.logs.dir="$inst" \
    kafka.tools.StorageTool format --standalone -t "$cid" -c "$inst/server.properties" >"$inst/format.out" 2>&1 \
    || { cat "$inst/format.out" >&2; die "storage format failed"; }
}

start() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$port"; then log "already running (pid $pid) on localhost:$port"; return 0; fi
  fi
  if port_open "$port"; then
    log "something already listens on localhost:$port; assuming it is a Kafka broker and leaving it alone"
    return 0
  fi
  fetch_jars
  write_config
  format_storage
  log "starting Kafka $version on localhost:$port (logs: $logfile)"
  # setsid: the broker outlives this shell; the pid file lets `stop` end exactly this process
  # shellcheck disable=SC2086
  setsid java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$inst/log4j2.properties" -Dkafka.logs.dir="$inst" \
    -cp "$libs/*" kafka.Kafka "$inst/server.properties" >"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local waited=0
  until port_open "$port"; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      tail -n 40 "$logfile" >&2 || true
      die "broker exited during start-up (full log: $logfile)"
    fi
    (( waited++ >= timeout * 5 )) && { tail -n 40 "$logfile" >&2; die "broker not reachable after ${timeout}s"; }
    sleep 0.2
  done
  log "ready on localhost:$port (pid $(cat "$pidfile"))"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then log "not running (no broker started by this script on port $port)"; rm -f "$pidfile"; return 0; fi
  log "stopping pid $pid"
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped"; return 0; }
    sleep 0.2
  done
  log "still alive after 30s, killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  local pid
  if port_open "$port"; then
    if pid="$(running_pid)"; then log "running (pid $pid) on localhost:$port"; else log "a broker listens on localhost:$port (not started by this script)"; fi
    return 0
  fi
  log "not running on localhost:$port"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  logs) tail -n "${2:-100}" "$logfile" ;;
  reset) stop; rm -rf "$inst"; log "removed $inst" ;;
  fetch) fetch_jars ;;
  *) echo "usage: $0 start|stop|status|logs|reset|fetch" >&2; exit 2 ;;
esac
