#!/usr/bin/env bash
# A real multi-process cluster on this machine, without Docker: one Kafka broker (KRaft), one Flink
# JobManager (standalone session) and two TaskManagers (two slots each), every one its own JVM,
# started from the jars Maven resolves (docker/local/pom.xml). Everything listens on 127.0.0.1.
#
#   docker/local/cluster.sh start                 # broker, JobManager, 2 TaskManagers; waits for 4 slots
#   docker/local/cluster.sh submit [JOB OPTIONS]  # uploads the job jar over REST and runs it
#   docker/local/cluster.sh flink run [-d] [-Dkey=value]... JAR [JOB OPTIONS]
#                                                 # Flink's own CLI (a distribution's flink script) here
#   docker/local/cluster.sh produce N [TOPIC]     # sends N demo events (default topic qsparse-input)
#   docker/local/cluster.sh sql-gateway           # starts Flink's SQL gateway on the cluster (REST :8083)
#   docker/local/cluster.sh sql [-i INIT] FILE    # runs a SQL script through the gateway (INIT first,
#                                                 # as sql-client.sh -i: DDL, ADD JAR)
#   docker/local/cluster.sh status                # processes, slots, jobs
#   docker/local/cluster.sh stop                  # cancels jobs, SIGTERM to every process, waits
#   docker/local/cluster.sh taskmanager N         # starts TaskManager N (a replacement, or one more)
#   docker/local/cluster.sh kill-taskmanager N    # SIGKILL to TaskManager N (a failure drill)
#   docker/local/cluster.sh clean                 # deletes the work directory (cluster stopped)
#
# Settings (environment): QSPARSE_CLUSTER_WORK (work dir: pids, logs, config, Kafka data; default
# docker/local/work), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), FLINK_RPC_PORT (6123),
# FLINK_REST_PORT (8081), SQL_GATEWAY_PORT (8083), TASK_MANAGERS (2), TASK_SLOTS (2), JOB_JAR, JAVA_HOME, MVN (mvn),
# QSPARSE_OFFLINE=1 (never let Maven go online), STOP_TIMEOUT (seconds before SIGKILL, 30).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${QSPARSE_CLUSTER_WORK:-$here/work}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
FLINK_RPC_PORT="${FLINK_RPC_PORT:-6123}"
FLINK_REST_PORT="${FLINK_REST_PORT:-8081}"
SQL_GATEWAY_PORT="${SQL_GATEWAY_PORT:-8083}"
TASK_MANAGERS="${TASK_MANAGERS:-2}"
TASK_SLOTS="${TASK_SLOTS:-2}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"
MVN="${MVN:-mvn}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JOB_JAR="${JOB_JAR:-$root/jobs/target/qsparse-enrichment-job.jar}"
JOBS_JAR="$root/jobs/target/jobs-0.1.0-SNAPSHOT.jar"   # the thin jar: BrokerMain + EmbeddedKafkaBroker
REST="http://127.0.0.1:$FLINK_REST_PORT"
GATEWAY="http://127.0.0.1:$SQL_GATEWAY_PORT"

# Every JVM we start carries this marker, so that stop/kill never signal a recycled PID.
marker="-Dqsparse.cluster.work=$work"

# Java 17 module flags Flink's own launch scripts pass (env.java.default-opts.all), plus the
# Vector API module the Q-Sparse kernels need.
flink_jvm_flags=(
  -XX:+IgnoreUnrecognizedVMOptions
  --add-modules jdk.incubator.vector
  --add-exports=java.base/sun.net.util=ALL-UNNAMED
  --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED
  --add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED
  --add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED
  --add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED
  --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED
)

say() { echo "cluster: $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------- processes

pidfile() { echo "$work/pids/$1.pid"; }

# The PID of a process we started, if it is still alive (and really ours).
live_pid() {
  local f pid
  f="$(pidfile "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# launch NAME JAVA-ARGS...: starts a JVM in its own session, output to logs/NAME.out.
launch() {
  local name="$1"; shift
  mkdir -p "$work/pids" "$work/logs"
  : > "$work/logs/$name.out"
  # bash -c writes its own PID and then execs java, so the PID file names the JVM itself.
  mkdir -p "$work/plugins"
  FLINK_PLUGINS_DIR="$work/plugins" setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' launch "$(pidfile "$name")" \
    "$JAVA" "$marker" -Dlog.file="$work/logs/$name.log" \
    -Dlog4j.configurationFile="file:$work/conf/log4j.properties" "$@" \
    >> "$work/logs/$name.out" 2>&1 < /dev/null &
  local i
  for i in $(seq 50); do [ -s "$(pidfile "$name")" ] && break; sleep 0.1; done
  say "started $name (pid $(cat "$(pidfile "$name")"), log $work/logs/$name.log)"
}

# signal_and_wait NAME: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL.
signal_and_wait() {
  local name="$1" pid i
  pid="$(live_pid "$name")" || { rm -f "$(pidfile "$name")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq $((STOP_TIMEOUT * 10))); do
    [ -e "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -e "/proc/$pid" ]; then
    say "$name (pid $pid) did not stop within ${STOP_TIMEOUT}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  say "stopped $name (pid $pid)"
  rm -f "$(pidfile "$name")"
}

taskmanager_names() {
  local f
  for f in "$work"/pids/taskmanager-*.pid; do
    [ -e "$f" ] && basename "$f" .pid
  done
  return 0
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_port_free() {
  if port_taken "$1"; then
    die "port $1 on 127.0.0.1 ($2) is already in use; stop what holds it (ss -ltnp 'sport = :$1') or choose another port with $3=..."
  fi
}

# ---------------------------------------------------------------- class paths and config

check_tools() {
  command -v "$JAVA" > /dev/null || die "java not found (set JAVA_HOME or put java 17+ on PATH)"
  local v
  v="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [ "${v%%.*}" -ge 17 ] 2>/dev/null || die "java 17 or newer needed, found ${v:-unknown} ($JAVA)"
  command -v curl > /dev/null || die "curl not found: it talks to Flink's REST API (apt-get install curl)"
  command -v setsid > /dev/null || die "setsid not found (util-linux)"
}

ensure_jars() {
  if [ ! -f "$JOB_JAR" ] || [ ! -f "$JOBS_JAR" ]; then
    command -v "$MVN" > /dev/null || die "the job jars are missing and Maven ($MVN) is not on PATH"
    say "building the job jars (jobs/target/qsparse-enrichment-job.jar, first use)..."
    (cd "$root" && "$MVN" -B -q -DskipTests -pl jobs -am package) >&2 \
      || die "cannot build the job jar; try: mvn -B -DskipTests -pl jobs -am package"
  fi
  [ -f "$JOB_JAR" ] || die "job jar $JOB_JAR not found"
  [ -f "$JOBS_JAR" ] || die "jobs jar $JOBS_JAR not found (mvn -DskipTests -pl jobs -am package)"
}

# resolve PROFILE: writes work/classpath/PROFILE.txt (cached until a pom changes).
pom_key() { cat "$here/pom.xml" "$root/pom.xml" | cksum | cut -d' ' -f1; }

# cached PROFILE: the class path was resolved from the current poms and all its jars exist.
cached() {
  local out="$work/classpath/$1.txt"
  [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$(pom_key)" ] && classpath_ok "$out"
}

resolve() {
  local profile="$1" out="$work/classpath/$1.txt" key log
  mkdir -p "$work/classpath"
  key="$(pom_key)"
  cached "$profile" && return 0
  command -v "$MVN" > /dev/null || die "Maven ($MVN) not found: it resolves the cluster's class paths (docker/local/pom.xml)"
  log="$work/classpath/$profile.mvn.log"
  say "resolving the $profile class path with Maven (offline first)..."
  if ! "$MVN" -B -q -o -f "$here/pom.xml" -P"$profile" dependency:build-classpath \
        -Dmdep.outputFile="$out" > "$log" 2>&1; then
    if [ "${QSPARSE_OFFLINE:-0}" = 1 ]; then
      tail -n 20 "$log" >&2
      die "Maven cannot resolve the $profile class path offline (QSPARSE_OFFLINE=1); full output: $log"
    fi
    say "not everything is in ~/.m2; letting Maven download the missing artifacts..."
    if ! "$MVN" -B -q -f "$here/pom.xml" -P"$profile" dependency:build-classpath \
          -Dmdep.outputFile="$out" > "$log" 2>&1; then
      tail -n 20 "$log" >&2
      die "Maven cannot resolve the $profile class path (docker/local/pom.xml -P$profile); full output: $log"
    fi
  fi
  classpath_ok "$out" || die "Maven wrote a class path with missing jars: $out"
  echo "$key" > "$out.key"
}

# Both class paths, resolved by two Maven runs side by side.
resolve_all() {
  local pid_flink pid_broker
  cached flink && cached broker && return 0
  command -v "$MVN" > /dev/null || die "Maven ($MVN) not found: it resolves the cluster's class paths (docker/local/pom.xml)"
  resolve flink & pid_flink=$!
  resolve broker & pid_broker=$!
  wait "$pid_flink" || exit 1
  wait "$pid_broker" || exit 1
}

classpath_ok() {
  local jar
  [ -s "$1" ] || return 1
  while IFS= read -r -d: jar || [ -n "$jar" ]; do
    [ -z "$jar" ] || [ -f "$jar" ] || return 1
  done < "$1"
}

write_config() {
  mkdir -p "$work/conf" "$work/checkpoints" "$work/jobmanager/tmp" "$work/jobmanager/upload"
  cat > "$work/conf/config.yaml" <<EOF
# Written by docker/local/cluster.sh: edits are overwritten by the next start.
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $FLINK_RPC_PORT
jobmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: 1024m
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.rpc.port: "0"
taskmanager.data.port: 0
taskmanager.numberOfTaskSlots: $TASK_SLOTS
# A TaskManager started without Flink's shell scripts needs its resources spelled out (the
# scripts compute them): 1280m per process = 640m heap (128m framework + 512m tasks), 128m
# framework off-heap, 64m network buffers, no managed memory (heap state only), 256m metaspace,
# 192m JVM overhead. cluster.sh passes the matching -Xmx/-XX flags.
taskmanager.cpu.cores: $TASK_SLOTS
taskmanager.memory.framework.heap.size: 128m
taskmanager.memory.task.heap.size: 512m
taskmanager.memory.framework.off-heap.size: 128m
taskmanager.memory.task.off-heap.size: 0m
taskmanager.memory.managed.size: 0m
taskmanager.memory.network.min: 64m
taskmanager.memory.network.max: 64m
taskmanager.memory.jvm-metaspace.size: 256m
taskmanager.memory.jvm-overhead.min: 192m
taskmanager.memory.jvm-overhead.max: 192m
blob.server.port: "0"
metrics.internal.query-service.port: "0"
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $FLINK_REST_PORT
web.upload.dir: $work/jobmanager/upload
io.tmp.dirs: $work/jobmanager/tmp
parallelism.default: $((TASK_MANAGERS * TASK_SLOTS))
execution.checkpointing.dir: file://$work/checkpoints
# As compose and Kubernetes ship it: restarts back off and never run out.
restart-strategy.type: exponential-delay
# A lost TaskManager is noticed within a few seconds (its heartbeat RPCs fail). The job's
# restarted tasks then wait up to slot.request.timeout for a replacement's slots: a standalone
# resource manager fails unfulfillable slot requests at once after its start-up period, which
# burns restart attempts every half second, so that period is made (practically) endless.
heartbeat.interval: 1 s
heartbeat.timeout: 10 s
heartbeat.rpc-failure-threshold: 2
slot.request.timeout: 2 min
resourcemanager.standalone.start-up-time: 30 d
EOF
  cat > "$work/conf/log4j.properties" <<'EOF'
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.kafkaserver.name = kafka
logger.kafkaserver.level = WARN
logger.broker.name = dev.qsparse.jobs.kafka
logger.broker.level = INFO
logger.netty.name = org.apache.flink.shaded.netty4.io.netty
logger.netty.level = WARN
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
EOF
}

# ---------------------------------------------------------------- REST

rest_get() { curl -sf --max-time 5 "$REST$1"; }

# json_field NAME: the first scalar value of "NAME" in the JSON on stdin.
json_field() { grep -o "\"$1\": *\"\?[^,\"}]*" | head -n1 | sed 's/^[^:]*: *"\{0,1\}//'; }

json_string() {
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/}"
  printf '"%s"' "$s"
}

await() { # await SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s
  local seconds="$1" what="$2" i; shift 2
  for i in $(seq $((seconds * 2))); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}

broker_ready() {
  grep -q "Kafka broker ready at" "$work/logs/kafka.out" 2>/dev/null && return 0
  live_pid kafka > /dev/null || {
    tail -n 20 "$work/logs/kafka.out" >&2
    die "the Kafka broker exited during start; see $work/logs/kafka.out and kafka.log"
  }
  return 1
}

# log_errors LOG: the last error lines of a Flink log (its .out often holds only JVM warnings).
log_errors() {
  [ -f "$1" ] || return 0
  grep -E "ERROR|Exception|Caused by" "$1" | tail -n 15 >&2 || true
}

rest_up() {
  rest_get /overview > /dev/null && return 0
  live_pid jobmanager > /dev/null || {
    tail -n 30 "$work/logs/jobmanager.out" >&2
    log_errors "$work/logs/jobmanager.log"
    die "the JobManager exited during start; see $work/logs/jobmanager.log"
  }
  return 1
}

slots_total() { rest_get /overview | json_field slots-total; }

enough_slots() {
  local want="$1" have n
  for n in $(taskmanager_names); do
    live_pid "$n" > /dev/null || {
      tail -n 30 "$work/logs/$n.out" >&2
      log_errors "$work/logs/$n.log"
      die "$n exited during start; see $work/logs/$n.log"
    }
  done
  have="$(slots_total 2>/dev/null || true)"
  [ "${have:-0}" -ge "$want" ]
}

# ---------------------------------------------------------------- commands

start_taskmanager() {
  local n="$1" name="taskmanager-$1"
  if live_pid "$name" > /dev/null; then
    die "$name is already running (pid $(live_pid "$name"))"
  fi
  mkdir -p "$work/$name/tmp"
  launch "$name" -Xmx640m -XX:MaxDirectMemorySize=192m -XX:MaxMetaspaceSize=256m "${flink_jvm_flags[@]}" \
    -cp "$(cat "$work/classpath/flink.txt")" \
    org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$work/conf" \
    -Dtaskmanager.resource-id="$name" -Dio.tmp.dirs="$work/$name/tmp"
}

cmd_start() {
  check_tools
  local running=()
  for n in kafka jobmanager sql-gateway $(taskmanager_names); do
    live_pid "$n" > /dev/null && running+=("$n")
  done
  [ ${#running[@]} -eq 0 ] || die "already running: ${running[*]} (docker/local/cluster.sh status / stop)"
  rm -f "$work"/pids/*.pid
  check_port_free "$KAFKA_PORT" "Kafka broker" KAFKA_PORT
  check_port_free "$KAFKA_CONTROLLER_PORT" "Kafka controller" KAFKA_CONTROLLER_PORT
  check_port_free "$FLINK_RPC_PORT" "Flink JobManager RPC" FLINK_RPC_PORT
  check_port_free "$FLINK_REST_PORT" "Flink REST API / web UI" FLINK_REST_PORT
  ensure_jars
  resolve_all
  write_config
  # A failed start leaves nothing running.
  trap 'say "start failed: stopping what was started"; cmd_stop' EXIT
  # EmbeddedKafkaBroker formats its data directory with a fresh cluster id on every start, so
  # topics do not survive a stop: start from an empty directory.
  rm -rf "$work/kafka-data" "$work/logs" "$work/checkpoints" "$work"/taskmanager-* "$work/jobmanager" "$work/sql-gateway"
  mkdir -p "$work/checkpoints" "$work/jobmanager/tmp" "$work/jobmanager/upload"

  launch kafka -Xmx512m -cp "$JOBS_JAR:$(cat "$work/classpath/broker.txt")" \
    dev.qsparse.jobs.kafka.BrokerMain --port "$KAFKA_PORT" --controller-port "$KAFKA_CONTROLLER_PORT" \
    --data-dir "$work/kafka-data"
  launch jobmanager -Xmx448m -XX:MaxDirectMemorySize=128m -XX:MaxMetaspaceSize=256m "${flink_jvm_flags[@]}" \
    -cp "$(cat "$work/classpath/flink.txt")" \
    org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir "$work/conf"
  local i
  for i in $(seq "$TASK_MANAGERS"); do
    start_taskmanager "$i"
  done

  await 120 "Kafka" broker_ready || die "the Kafka broker did not become ready within 120 s; see $work/logs/kafka.out"
  say "Kafka broker ready at 127.0.0.1:$KAFKA_PORT"
  await 120 "REST" rest_up || die "Flink's REST API did not answer on $REST within 120 s; see $work/logs/jobmanager.log"
  local want=$((TASK_MANAGERS * TASK_SLOTS))
  if ! await 120 "slots" enough_slots "$want"; then
    die "only $(slots_total || echo 0) of $want slots registered after 120 s; see $work/logs/taskmanager-*.log"
  fi
  trap - EXIT
  say "Flink ready: $want slots on $TASK_MANAGERS TaskManagers, web UI $REST"
}

cmd_submit() {
  check_tools
  [ -f "$JOB_JAR" ] || ensure_jars
  rest_get /overview > /dev/null || die "no JobManager answers on $REST (docker/local/cluster.sh start)"
  # Defaults for every option the caller did not give.
  local args=("$@") given=" $* " defaults=(
    --bootstrap-servers "127.0.0.1:$KAFKA_PORT"
    --model "$root/models/qsparse-demo"
    --parallelism "$((TASK_MANAGERS * TASK_SLOTS))"
    --checkpoint-interval PT2S)
  local i
  for ((i = 0; i < ${#defaults[@]}; i += 2)); do
    case "$given" in *" ${defaults[i]} "*|*" ${defaults[i]}="*) ;; *) args+=("${defaults[i]}" "${defaults[i+1]}") ;; esac
  done
  case "$given" in *" --create-topics "*) ;; *) args+=(--create-topics) ;; esac

  local upload jar_id body=""
  upload="$(curl -sS --max-time 120 -X POST -H "Expect:" -F "jarfile=@$JOB_JAR" "$REST/jars/upload")" \
    || die "upload of $JOB_JAR to $REST/jars/upload failed"
  jar_id="$(echo "$upload" | json_field filename)"
  jar_id="${jar_id##*/}"
  [ -n "$jar_id" ] || die "unexpected answer from /jars/upload: $upload"
  for a in "${args[@]}"; do body+="${body:+,}$(json_string "$a")"; done
  local run job_id
  run="$(curl -sS --max-time 300 -X POST -H 'Content-Type: application/json' \
    -d "{\"programArgsList\":[$body]}" "$REST/jars/$jar_id/run")" || die "POST /jars/$jar_id/run failed"
  job_id="$(echo "$run" | json_field jobid)"
  [ -n "$job_id" ] || die "the job did not start: $run"
  say "job $job_id submitted ($REST/#/job/running/$job_id/overview) with: ${args[*]}"
  echo "$job_id"
}

# Flink's command line (what bin/flink of a Flink distribution runs), against this cluster: its
# config.yaml gives the REST address, so `flink run -Dqsparse.batch.max-size=32 JAR ...` works as
# with a distribution. The job's main runs here, in this client JVM, as with bin/flink.
cmd_flink() {
  check_tools
  resolve flink
  [ -f "$work/conf/config.yaml" ] || die "no config: run start first"
  mkdir -p "$work/plugins" "$work/logs"
  FLINK_CONF_DIR="$work/conf" FLINK_PLUGINS_DIR="$work/plugins" "$JAVA" "${flink_jvm_flags[@]}" \
    -Dlog.file="$work/logs/flink-cli.log" -Dlog4j.configurationFile="file:$work/conf/log4j.properties" \
    -cp "$(cat "$work/classpath/flink.txt")" org.apache.flink.client.cli.CliFrontend "$@"
}

# produce N [TOPIC]: N demo events (held-out texts as JSON) to TOPIC on the local broker, at once.
cmd_produce() {
  check_tools
  ensure_jars
  resolve broker
  "$JAVA" -cp "$JOBS_JAR:$(cat "$work/classpath/broker.txt")" dev.qsparse.jobs.demo.ProduceEvents \
    "127.0.0.1:$KAFKA_PORT" "${2:-qsparse-input}" "$1" "$root/models/data/events.txt"
}

# ---------------------------------------------------------------- SQL

gateway_up() {
  curl -sf --max-time 5 "$GATEWAY/v1/info" > /dev/null && return 0
  live_pid sql-gateway > /dev/null || {
    tail -n 30 "$work/logs/sql-gateway.out" >&2
    log_errors "$work/logs/sql-gateway.log"
    die "the SQL gateway exited during start; see $work/logs/sql-gateway.log"
  }
  return 1
}

# Flink's SQL gateway (what a distribution's bin/sql-gateway.sh starts) as one more process of the
# cluster: it plans SQL with the table planner and submits the jobs to the JobManager (rest.* of
# config.yaml). Its class path has what a distribution's lib/ has for SQL (table runtime, JSON,
# connector-base), but no connector: a session ADD JARs the ones its tables use.
cmd_sql_gateway() {
  check_tools
  [ -f "$work/conf/config.yaml" ] || die "no config: run start first"
  rest_get /overview > /dev/null || die "no JobManager answers on $REST (docker/local/cluster.sh start)"
  if live_pid sql-gateway > /dev/null; then
    die "sql-gateway is already running (pid $(live_pid sql-gateway)), REST API $GATEWAY"
  fi
  check_port_free "$SQL_GATEWAY_PORT" "Flink SQL gateway" SQL_GATEWAY_PORT
  resolve sql-gateway
  # The planner loader unpacks the planner into java.io.tmpdir.
  mkdir -p "$work/sql-gateway/tmp"
  export FLINK_CONF_DIR="$work/conf"
  launch sql-gateway -Xmx512m -XX:MaxMetaspaceSize=384m -Djava.io.tmpdir="$work/sql-gateway/tmp" \
    "${flink_jvm_flags[@]}" -cp "$(cat "$work/classpath/sql-gateway.txt")" \
    org.apache.flink.table.gateway.SqlGateway \
    -Dsql-gateway.endpoint.rest.address=127.0.0.1 -Dsql-gateway.endpoint.rest.bind-address=127.0.0.1 \
    -Dsql-gateway.endpoint.rest.port="$SQL_GATEWAY_PORT"
  await 120 "SQL gateway" gateway_up || die "the SQL gateway did not answer on $GATEWAY within 120 s; see $work/logs/sql-gateway.log"
  say "SQL gateway ready: $GATEWAY (REST API v1)"
}

# The statements of a SQL script, each followed by the byte 0x1e: '--' comments dropped (not
# inside a quoted string), split at ';' outside quotes.
sql_statements() {
  awk '
    function emit(s) { gsub(/^[ \t\r\n]+|[ \t\r\n]+$/, "", s); if (s != "") printf "%s\036", s }
    {
      line = $0; out = ""
      for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (quoted) { out = out c; if (c == "\047") quoted = 0; continue }
        if (c == "\047") { quoted = 1; out = out c; continue }
        if (c == "-" && substr(line, i + 1, 1) == "-") break
        if (c == ";") { emit(statement out); statement = ""; out = ""; continue }
        out = out c
      }
      statement = statement out "\n"
    }
    END { emit(statement) }
  ' "$1"
}

# gateway_error ANSWER: what went wrong, to stderr. The gateway's answer to a failed operation
# carries the whole stack trace: its last causes say it; other answers are shown as they are.
gateway_error() {
  local causes
  causes="$(printf '%s\n' "$1" | sed 's/\\n/\n/g; s/\\t/  /g' | grep '^Caused by: ' | tail -n 6 || true)"
  printf '%s\n' "${causes:-$(head -c 600 <<< "$1")}" >&2
}

# gateway_call METHOD PATH [BODY]: the gateway's answer; dies on a transport error.
gateway_call() {
  local out
  out="$(curl -sS --max-time 120 -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$GATEWAY$2")" \
    || die "$1 $GATEWAY$2 failed"
  printf '%s' "$out"
}

# sql [-i INIT] FILE: every statement of FILE in one gateway session, in order (SET, ADD JAR,
# CREATE ..., INSERT INTO ...), each waited for; stops at the first that fails, with the gateway's
# error. Prints the id of each job an INSERT submitted. INIT's statements first configure the
# session through the gateway's configure-session call (REST API v2), as `sql-client.sh -i INIT`
# does: SET, DDL, USE, LOAD MODULE, ADD JAR, but no INSERT or query.
cmd_sql() {
  local init="" file session statement op status result job code n=0
  if [ "${1:-}" = -i ]; then
    init="${2:-}"
    shift 2 || true
    [ -f "$init" ] || die "no such SQL init file: $init"
  fi
  file="${1:-}"
  [ -n "$file" ] || die "usage: cluster.sh sql [-i INIT] FILE"
  [ -f "$file" ] || die "no such SQL script: $file"
  curl -sf --max-time 5 "$GATEWAY/v1/info" > /dev/null \
    || die "no SQL gateway answers on $GATEWAY (docker/local/cluster.sh sql-gateway)"
  session="$(gateway_call POST /v1/sessions '{"sessionName":"cluster.sh"}' | json_field sessionHandle)"
  [ -n "$session" ] || die "the SQL gateway opened no session"
  if [ -n "$init" ]; then
    while IFS= read -r -d $'\036' statement; do
      result="$(curl -sS --max-time 120 -X POST -H 'Content-Type: application/json' -w '\n%{http_code}' \
        -d "{\"statement\":$(json_string "$statement")}" "$GATEWAY/v2/sessions/$session/configure-session")" \
        || die "POST $GATEWAY/v2/sessions/$session/configure-session failed"
      code="${result##*$'\n'}"
      if [ "$code" != 200 ]; then
        gateway_error "${result%$'\n'*}"
        gateway_call DELETE "/v1/sessions/$session" > /dev/null || true
        die "$init: the gateway refused to configure the session with: $(head -n1 <<< "$statement") (HTTP $code)"
      fi
      say "init: $(head -n1 <<< "$statement")"
    done < <(sql_statements "$init")
  fi
  while IFS= read -r -d $'\036' statement; do
    n=$((n + 1))
    op="$(gateway_call POST "/v1/sessions/$session/statements" "{\"statement\":$(json_string "$statement")}" \
      | json_field operationHandle)"
    [ -n "$op" ] || die "statement $n was not accepted: $(head -n1 <<< "$statement")"
    status=""
    for _ in $(seq 1200); do
      status="$(gateway_call GET "/v1/sessions/$session/operations/$op/status" | json_field status)"
      case "$status" in FINISHED|ERROR|CANCELED|CLOSED|TIMEOUT) break ;; esac
      sleep 0.25
    done
    result="$(gateway_call GET "/v1/sessions/$session/operations/$op/result/0")"
    if [ "$status" != FINISHED ]; then
      gateway_error "$result"
      gateway_call DELETE "/v1/sessions/$session" > /dev/null || true
      die "statement $n of $file ended $status: $(head -n1 <<< "$statement")"
    fi
    job="$(printf '%s' "$result" | grep -o '"jobID":"[0-9a-f]\{32\}"' | grep -o '[0-9a-f]\{32\}' | head -n1 || true)"
    say "statement $n: $(head -n1 <<< "$statement")${job:+ -> job $job}"
    [ -z "$job" ] || echo "$job"
  done < <(sql_statements "$file")
  gateway_call DELETE "/v1/sessions/$session" > /dev/null || true
  [ "$n" -gt 0 ] || die "$file has no statement"
}

cmd_status() {
  local n pid
  for n in kafka jobmanager $(taskmanager_names) sql-gateway; do
    if pid="$(live_pid "$n")"; then echo "$n: running (pid $pid)"; else echo "$n: not running"; fi
  done
  if rest_get /overview > /dev/null 2>&1; then
    echo "flink: $(rest_get /overview)"
    echo "jobs: $(rest_get /jobs/overview)"
  else
    echo "flink: no REST API on $REST"
  fi
}

cmd_stop() {
  if rest_get /jobs/overview > /dev/null 2>&1; then
    local id
    for id in $(rest_get /jobs/overview | grep -o '"jid":"[0-9a-f]*","name":"[^"]*","start-time":[0-9]*,"end-time":-1' | sed 's/"jid":"\([0-9a-f]*\)".*/\1/'); do
      say "cancelling job $id"
      curl -sf --max-time 10 -X PATCH "$REST/jobs/$id?mode=cancel" > /dev/null || true
    done
    # Let the sinks abort their transactions before the TaskManagers go.
    await 20 "cancel" no_running_jobs || say "jobs still cancelling after 20 s; stopping anyway"
  fi
  signal_and_wait sql-gateway
  local n pids=()
  for n in $(taskmanager_names); do signal_and_wait "$n" & pids+=($!); done
  [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
  signal_and_wait jobmanager
  signal_and_wait kafka
}

no_running_jobs() {
  local jobs
  jobs="$(rest_get /jobs/overview 2>/dev/null)" || return 0
  ! echo "$jobs" | grep -qE '"state":"(RUNNING|CANCELLING|RESTARTING|CREATED|INITIALIZING|FAILING)"'
}

cmd_kill_taskmanager() {
  local name="taskmanager-$1" pid
  pid="$(live_pid "$name")" || die "$name is not running"
  kill -KILL "$pid"
  say "SIGKILL sent to $name (pid $pid)"
}

cmd_clean() {
  local n
  for n in kafka jobmanager sql-gateway $(taskmanager_names); do
    live_pid "$n" > /dev/null && die "$n is running: stop the cluster first"
  done
  rm -rf "$work"
  say "removed $work"
}

case "${1:-}" in
  start) cmd_start ;;
  submit) shift; cmd_submit "$@" ;;
  flink) shift; cmd_flink "$@" ;;
  sql-gateway) cmd_sql_gateway ;;
  sql) [ -n "${2:-}" ] || die "usage: cluster.sh sql [-i INIT] FILE"; shift; cmd_sql "$@" ;;
  produce) [ -n "${2:-}" ] || die "usage: cluster.sh produce N [TOPIC]"; shift; cmd_produce "$@" ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  taskmanager)
    [ -n "${2:-}" ] || die "usage: cluster.sh taskmanager N"
    check_tools; resolve flink; [ -f "$work/conf/config.yaml" ] || die "no config: run start first"
    start_taskmanager "$2" ;;
  kill-taskmanager) [ -n "${2:-}" ] || die "usage: cluster.sh kill-taskmanager N"; cmd_kill_taskmanager "$2" ;;
  clean) cmd_clean ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
