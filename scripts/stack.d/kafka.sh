# Kafka component for scripts/stack (sourced after common.sh, not run).
# A single-node KRaft broker+controller on 127.0.0.1, installed from Maven Central: a generated pom
# resolves org.apache.kafka:kafka_2.13 and its runtime dependencies (Maven's local repository is the
# download cache) and copies them into $STACK_DIR/kafka/lib; the broker runs as `java -cp 'lib/*'`.
#   $STACK_DIR/kafka/pom.xml, lib/           install (kept by reset)
#   $STACK_DIR/kafka/server.properties,
#   $STACK_DIR/kafka/log4j2.xml              rewritten on every start
#   $STACK_DIR/kafka/data/                   KRaft metadata + topic data (removed by kafka_reset)
#   $LOG_DIR/kafka.log, kafka-format.log     broker output, output of the one-time storage format
#   $STACK_DIR/kafka/tls/                    a CA, the broker's and a client's key and certificate
#                                            (PEM, generated once with openssl; kept by reset)
# Listeners: PLAINTEXT on SLUICE_KAFKA_PORT; SSL with client certificates required (mutual TLS)
# on SLUICE_KAFKA_SSL_PORT; SASL_SSL with SCRAM-SHA-512 on SLUICE_KAFKA_SASL_SSL_PORT, user
# `sluice`, password SLUICE_KAFKA_SCRAM_PASSWORD (created after every start, idempotent). Both TLS
# listeners present the broker certificate for 127.0.0.1 and localhost, signed by tls/ca.pem.
# Settings (environment):
#   SLUICE_KAFKA_PORT (9092)  SLUICE_KAFKA_CONTROLLER_PORT (9093)
#   SLUICE_KAFKA_SSL_PORT (9094)  SLUICE_KAFKA_SASL_SSL_PORT (9095)  SLUICE_KAFKA_SCRAM_PASSWORD
#   SLUICE_KAFKA_PROXIED_PORT (9096)  SLUICE_KAFKA_PROXIED_ADVERTISED_PORT (19096)
#   SLUICE_KAFKA_HEAP ("-Xmx1g -Xms512m")  SLUICE_KAFKA_VERSION  SLUICE_KAFKA_LOG4J_VERSION
# Topics are not auto-created (auto.create.topics.enable=false): create them with the admin API.
# The storage/metadata tools are on the same classpath, e.g.
#   java -cp "$STACK_DIR/kafka/lib/*" kafka.tools.StorageTool info -c "$STACK_DIR/kafka/server.properties"

# 4.3.1 is the newest 4.x release completely published on Maven Central. (4.4.0 appeared there on
# 2026-11-20 without .asc signatures and without kafka-tools/kafka-streams, so it is not the default.)
# The log4j version matches the log4j-core that kafka-server 4.3.1 depends on.
KAFKA_VERSION=${SLUICE_KAFKA_VERSION:-4.3.1}
KAFKA_LOG4J_VERSION=${SLUICE_KAFKA_LOG4J_VERSION:-2.25.4}
KAFKA_DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
KAFKA_DIR=$STACK_DIR/kafka
KAFKA_DATA=$KAFKA_DIR/data

kafka_port()            { printf '%s' "${SLUICE_KAFKA_PORT:-9092}"; }
kafka_controller_port() { printf '%s' "${SLUICE_KAFKA_CONTROLLER_PORT:-9093}"; }
kafka_ssl_port()        { printf '%s' "${SLUICE_KAFKA_SSL_PORT:-9094}"; }
kafka_sasl_ssl_port()   { printf '%s' "${SLUICE_KAFKA_SASL_SSL_PORT:-9095}"; }
# A plain listener for network-fault tests (npm run chaos, net-kafka-*): it advertises
# SLUICE_KAFKA_PROXIED_ADVERTISED_PORT, where a Toxiproxy of the test forwards to it, so every
# connection a client opens after the metadata goes through the proxy too. Unused otherwise.
kafka_proxied_port()    { printf '%s' "${SLUICE_KAFKA_PROXIED_PORT:-9096}"; }
kafka_proxied_advertised_port() { printf '%s' "${SLUICE_KAFKA_PROXIED_ADVERTISED_PORT:-19096}"; }
KAFKA_TLS=$KAFKA_DIR/tls
KAFKA_SCRAM_USER=sluice
KAFKA_SCRAM_PASSWORD=${SLUICE_KAFKA_SCRAM_PASSWORD:-sluice-local-scram}

# _kafka_tls: a CA, and broker and client keys (PKCS#8) with certificates it signed, once.
_kafka_tls() {
  [ -f "$KAFKA_TLS/client.pem" ] && return 0
  need openssl "install openssl (Debian package 'openssl')"
  local t=$KAFKA_TLS.tmp
  rm -rf "$t" && mkdir -p "$t"
  (
    cd "$t" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sluice-local-ca" -keyout ca.key -out ca.pem
    for who in broker client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=sluice-$who" -keyout "$who.key" -out "$who.csr"
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile "$who.ext" -out "$who.pem"
    done
    # Kafka's PEM keystore: the private key (PKCS#8, unencrypted) followed by its certificate.
    cat broker.key broker.pem >broker-keystore.pem
    rm -f ./*.csr ./*.ext ca.srl
  ) >"$LOG_DIR/kafka-tls.log" 2>&1 || die "generating the Kafka TLS material failed (log: $LOG_DIR/kafka-tls.log)"
  chmod 600 "$t"/*.key "$t/broker-keystore.pem"
  rm -rf "$KAFKA_TLS" && mv "$t" "$KAFKA_TLS"
  say "generated a local CA and broker and client certificates in $KAFKA_TLS"
}

_kafka_marker() { printf '%s/.installed-%s-log4j-%s' "$KAFKA_DIR" "$KAFKA_VERSION" "$KAFKA_LOG4J_VERSION"; }

# _kafka_port_open <port>: something accepts TCP connections on 127.0.0.1:<port>
_kafka_port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# The Kafka 4.x broker needs Java 17+.
_kafka_need_java() {
  need java "install a JDK 17+ (Debian package 'openjdk-17-jre-headless')"
  local v major
  v=$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)
  major=${v%%[.+-]*}
  [ "$major" = 1 ] && major=$(printf '%s' "$v" | cut -d. -f2)
  if ! [[ "$major" =~ ^[0-9]+$ ]] || [ "$major" -lt 17 ]; then
    die "Kafka $KAFKA_VERSION needs Java 17 or newer; 'java' on PATH is version '${v:-unknown}'"
  fi
}

kafka_install() {
  local marker; marker=$(_kafka_marker)
  if [ -f "$marker" ] && [ -d "$KAFKA_DIR/lib" ]; then return 0; fi
  _kafka_need_java
  need mvn "install Maven (Debian package 'maven')"
  say "installing Kafka $KAFKA_VERSION (KRaft) from Maven Central into $KAFKA_DIR"
  mkdir -p "$KAFKA_DIR"
  cat >"$KAFKA_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/stack.d/kafka.sh: the runtime classpath of a single Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sluice.stack</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- kafka_2.13 brings slf4j-api 1.7 and log4j-core but no SLF4J binding; without one most
         of the broker's logging (SLF4J) is dropped with an "SLF4J: Failed to load class" warning. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$KAFKA_LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  local out=$KAFKA_DIR/mvn-install.log
  rm -rf "$KAFKA_DIR/lib.tmp"
  # -Dmaven.repo.local: honour SLUICE_M2_REPO (common.sh's M2_REPO) as the download cache.
  if ! mvn -B -q -f "$KAFKA_DIR/pom.xml" -Dmaven.repo.local="$M2_REPO" \
      "$KAFKA_DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime \
      -DoutputDirectory="$KAFKA_DIR/lib.tmp" >"$out" 2>&1; then
    tail -n 20 "$out" >&2
    die "Maven could not resolve Kafka $KAFKA_VERSION (is Maven Central reachable? full log: $out)"
  fi
  [ -f "$KAFKA_DIR/lib.tmp/kafka_2.13-$KAFKA_VERSION.jar" ] \
    || die "Kafka jar missing after the Maven run (log: $out)"
  rm -rf "${KAFKA_DIR:?}/lib" && mv "$KAFKA_DIR/lib.tmp" "$KAFKA_DIR/lib"
  rm -f "$KAFKA_DIR"/.installed-*
  : >"$marker"
  say "Kafka $KAFKA_VERSION installed ($(du -sh "$KAFKA_DIR/lib" | cut -f1) in $KAFKA_DIR/lib)"
}

_kafka_write_config() {
  local port cport sport ssport pport paport; port=$(kafka_port); cport=$(kafka_controller_port); sport=$(kafka_ssl_port); ssport=$(kafka_sasl_ssl_port)
  pport=$(kafka_proxied_port); paport=$(kafka_proxied_advertised_port)
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Generated by scripts/stack.d/kafka.sh on every start: change settings there, not here.
process.roles=broker,controller
node.id=1
# Static single-voter quorum: the controller endpoint is read from here on every start, so
# changing SLUICE_KAFKA_CONTROLLER_PORT does not require re-formatting the storage.
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$ssport,PROXIED://127.0.0.1:$pport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$ssport,PROXIED://127.0.0.1:$paport
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,PROXIED:PLAINTEXT
# TLS on both secured listeners: the broker certificate (PEM keystore) and the local CA.
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_TLS/ca.pem
# SSL: mutual TLS, a client certificate signed by the local CA is required.
listener.name.ssl.ssl.client.auth=required
# SASL_SSL: SCRAM-SHA-512 users (kafka_after_start creates one), no client certificate.
listener.name.sasl_ssl.ssl.client.auth=none
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# 5 instead of 50 partitions for each internal topic: a restart takes ~4 s instead of ~10 s here.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
share.coordinator.state.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  # Everything goes to stdout, which start_bg appends to $LOG_DIR/kafka.log. kafka_healthy needs
  # the INFO line "Kafka Server started" from kafka.server.KafkaRaftServer. The per-partition
  # chatter of loading the 50+50 internal partitions and the config dumps are turned down to WARN.
  cat >"$KAFKA_DIR/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="stdout"/></Root>
    <Logger name="kafka.server.KafkaRaftServer" level="INFO"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="kafka.network.RequestChannel$" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="WARN"/>
    <Logger name="org.apache.kafka.coordinator.common.runtime.CoordinatorRuntime" level="WARN"/>
    <Logger name="kafka.coordinator.transaction" level="WARN"/>
    <Logger name="org.apache.kafka.storage.internals.log" level="WARN"/>
    <Logger name="kafka.log.LogManager" level="WARN"/>
    <Logger name="kafka.cluster.Partition" level="WARN"/>
    <Logger name="org.apache.kafka.controller.PartitionChangeBuilder" level="WARN"/>
    <Logger name="org.apache.kafka.controller.ReplicationControlManager" level="WARN"/>
  </Loggers>
</Configuration>
EOF
}

kafka_start() {
  [ -f "$(_kafka_marker)" ] || die "Kafka $KAFKA_VERSION is not installed (run kafka_install / scripts/stack up)"
  _kafka_need_java
  local p
  for p in "$(kafka_port)" "$(kafka_controller_port)" "$(kafka_ssl_port)" "$(kafka_sasl_ssl_port)"; do
    if _kafka_port_open "$p"; then
      die "127.0.0.1:$p is already in use by another process;" \
        "stop it or set SLUICE_KAFKA_PORT / SLUICE_KAFKA_CONTROLLER_PORT / SLUICE_KAFKA_SSL_PORT / SLUICE_KAFKA_SASL_SSL_PORT"
    fi
  done
  _kafka_tls
  _kafka_write_config
  local cp="$KAFKA_DIR/lib/*" log4j="-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.xml"
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    # First start (or after reset): format the KRaft storage with a fresh random cluster id
    # (16 random bytes, base64url without padding, as `kafka-storage random-uuid` prints). Like
    # Kafka's Uuid.randomUuid, draw again while it starts with '-': the tool's argument parser
    # reads such an id as an option ("argument --cluster-id/-t: expected one argument"), which
    # failed one CI run in 64.
    local cid out=$LOG_DIR/kafka-format.log
    cid=-
    while [ "${cid#-}" != "$cid" ]; do
      cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    mkdir -p "$KAFKA_DATA"
    say "formatting Kafka storage in $KAFKA_DATA (cluster id $cid)"
    if ! java -Xmx256m "$log4j" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
        -t "$cid" -c "$KAFKA_DIR/server.properties" >"$out" 2>&1; then
      tail -n 30 "$out" >&2
      die "formatting the Kafka storage failed (log: $out)"
    fi
  fi
  # shellcheck disable=SC2086  # the heap options are a word list
  start_bg kafka java ${SLUICE_KAFKA_HEAP:--Xmx1g -Xms512m} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "$log4j" -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties"
}

# Cheap enough to poll every second (no JVM): the client port accepts TCP connections and this
# broker's log (truncated by start_bg on every start) says it finished starting — the log check
# also keeps a foreign process on the port from looking healthy.
kafka_healthy() {
  _kafka_port_open "$(kafka_port)" || return 1
  grep -q -m 1 'Kafka Server started' "$LOG_DIR/kafka.log" 2>/dev/null
}

kafka_endpoint() { printf '%-14s %s (TLS %s with client certificates, SASL_SSL SCRAM-SHA-512 %s; CA %s)\n' kafka "127.0.0.1:$(kafka_port)" "$(kafka_ssl_port)" "$(kafka_sasl_ssl_port)" "$KAFKA_TLS/ca.pem"; }

# After the broker is healthy: the SCRAM user of the SASL_SSL listener (an upsert: every start).
kafka_after_start() {
  local out=$LOG_DIR/kafka-scram.log
  if ! java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.xml" -cp "$KAFKA_DIR/lib/*" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$(kafka_port)" --alter --entity-type users --entity-name "$KAFKA_SCRAM_USER" \
      --add-config "SCRAM-SHA-512=[iterations=4096,password=$KAFKA_SCRAM_PASSWORD]" >"$out" 2>&1; then
    tail -n 20 "$out" >&2
    die "creating the Kafka SCRAM user failed (log: $out)"
  fi
}

# Removes topics, offsets and the cluster id (the next start formats afresh); keeps the install.
kafka_reset() {
  if is_running kafka; then die "kafka is running; stop it before removing its data"; fi
  rm -rf "${KAFKA_DATA:?}"
}
