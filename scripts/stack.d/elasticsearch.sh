# Elasticsearch component for scripts/stack (sourced after common.sh; see the contract there).
#
# Version and JDK (checked on the polyglot machine, Debian 12, 2 cores):
#   * Elasticsearch 9.5.3 on the Temurin 25 JDK (/usr/lib/jvm/temurin-25-jdk-amd64). 9.5.3 is the
#     newest `org.elasticsearch.distribution.integ-test-zip:elasticsearch` on Maven Central (later
#     9.5.x, 9.4.x and 9.3.x releases exist for other artifacts but have no integ-test-zip). 9.x
#     needs Java 21+; the machine's default java is 17, so we point ES_JAVA_HOME at the newest
#     JDK >= 21 we find (Temurin 25 here). It starts and passes our smoke test on Java 25.
#   * Fallback, chosen automatically when no JDK >= 21 exists: 8.19.21 (newest 8.x integ-test-zip)
#     on a JDK >= 17 (Debian's openjdk-17). Matching npm client: @elastic/elasticsearch@9 for 9.x,
#     @8 for 8.x.
#   Override with SLUICE_ES_VERSION and/or SLUICE_ES_JAVA_HOME. Data written by 9.x cannot be read
#   by 8.x: after a downgrade run `scripts/stack reset`.
#
# What the integ-test-zip contains (same module list in 9.5.3 and 8.19.21; behaviour below checked
# on 9.5.3): server + modules apm, transport-netty4, x-pack-core, x-pack-security. Missing modules:
# data-streams, rest-root, ingest-common, lang-painless, mapper-extras, analysis-common, reindex,
# aggregations, ... Consequences:
#   works:   composable index templates + component templates, `date_nanos`, bulk create with _id,
#            terms/date_histogram aggs, wildcard index DELETE, _resolve/index, and a data stream is
#            auto-created (and can be rolled over) when writing to a name matched by a template
#            with `data_stream: {}`;
#   missing: the _data_stream REST API (GET/PUT/DELETE: "no handler found"), so a data stream can
#            only be removed by elasticsearch_reset; the failure store (the template option
#            data_stream_options.failure_store is accepted but bad documents are rejected with 400,
#            not redirected; ::failures stays empty); ingest processors (no `set`, ...); painless
#            scripts; `GET /` (405; client.info() fails, other client calls are fine).
# x-pack-security IS shipped (and on by default), so elasticsearch.yml switches it off; license is
# "basic". None of the missing modules is published on Maven Central.
#
# Elasticsearch refuses to run as root: when run as root we create the system user $ES_USER
# (default sluice-es), chown $STACK_DIR/elasticsearch to it and start ES through `setpriv`,
# which execs (no extra forking parent), so the pid recorded by start_bg leads a process group
# holding the ES launcher and the server JVM, and stop_pid stops both.
#
# Layout: $STACK_DIR/elasticsearch/{elasticsearch-<ver>/ (ES_HOME, config in its config/),
#         data/, logs/, tmp/, .installed (marker: version and JDK)}

ES_DIR=$STACK_DIR/elasticsearch
ES_USER=${SLUICE_ES_USER:-sluice-es}
ES_V9=9.5.3
ES_V8=8.19.21
ES_GROUP_ID=org.elasticsearch.distribution.integ-test-zip

_es_port() { printf '%s' "${SLUICE_ES_PORT:-9200}"; }

# _es_java_major <java home>: prints the feature version (17, 21, 25, ...) or fails
_es_java_major() {
  local v
  [ -x "$1/bin/java" ] || return 1
  if [ -f "$1/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$1/release")
  fi
  if [ -z "${v:-}" ]; then
    v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
  fi
  v=${v#1.}
  v=${v%%[!0-9]*}
  [ -n "$v" ] && printf '%s' "$v"
}

# _es_find_jdk <min major>: prints the home of a JDK >= min (prefers 25, then 21, then the newest)
_es_find_jdk() {
  local min=$1 h m best="" score bests=-1
  local cands=()
  [ -n "${SLUICE_ES_JAVA_HOME:-}" ] && cands+=("$SLUICE_ES_JAVA_HOME")
  for h in /usr/lib/jvm/*/; do cands+=("${h%/}"); done
  [ -n "${JAVA_HOME:-}" ] && cands+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    cands+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for h in "${cands[@]}"; do
    m=$(_es_java_major "$h") || continue
    [ "$m" -ge "$min" ] || continue
    if [ -n "${SLUICE_ES_JAVA_HOME:-}" ] && [ "$h" = "$SLUICE_ES_JAVA_HOME" ]; then
      printf '%s' "$h"; return 0
    fi
    case $m in 25) score=1000 ;; 21) score=900 ;; *) score=$m ;; esac
    if [ "$score" -gt "$bests" ]; then best=$h; bests=$score; fi
  done
  [ -n "$best" ] && printf '%s' "$best"
}

# _es_pick: sets ES_VERSION and ES_JAVA_HOME (the version/JDK we want installed)
_es_pick() {
  local min
  if [ -n "${SLUICE_ES_VERSION:-}" ]; then
    ES_VERSION=$SLUICE_ES_VERSION
    case $ES_VERSION in 9.*|1[0-9].*) min=21 ;; *) min=17 ;; esac
    ES_JAVA_HOME=$(_es_find_jdk "$min") \
      || die "Elasticsearch $ES_VERSION needs a JDK >= $min; none found (set SLUICE_ES_JAVA_HOME)"
  elif ES_JAVA_HOME=$(_es_find_jdk 21); then
    ES_VERSION=$ES_V9
  elif ES_JAVA_HOME=$(_es_find_jdk 17); then
    ES_VERSION=$ES_V8
    say "no JDK >= 21 found; using Elasticsearch $ES_VERSION on $ES_JAVA_HOME"
  else
    need java "install a JDK 17+ (Debian package 'openjdk-17-jre-headless'; 21+ for Elasticsearch 9)"
    die "Elasticsearch needs a JDK >= 17 (>= 21 for 9.x); set SLUICE_ES_JAVA_HOME"
  fi
}

_es_as_root() { [ "$(id -u)" = 0 ]; }

# _es_su: sets array ES_SU to the prefix that runs a command as the ES user when we are root
# (setpriv execs: no forking parent stays around), else to nothing
_es_su() {
  ES_SU=()
  if _es_as_root; then ES_SU=(setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups --); fi
}

_es_run_as() { local ES_SU; _es_su; "${ES_SU[@]}" "$@"; }

_es_ensure_user() {
  _es_as_root || return 0
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  need useradd "install the Debian package 'passwd'"
  say "creating system user $ES_USER (Elasticsearch refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --comment "Sluice local Elasticsearch" "$ES_USER" \
    || die "could not create user $ES_USER"
}

# _es_ensure_access: the ES user must be able to reach $ES_DIR; add o+x on any parent that blocks it
_es_ensure_access() {
  _es_as_root || return 0
  _es_run_as test -x "$ES_DIR" -a -w "$ES_DIR/data" 2>/dev/null && return 0
  local d path='' parts
  IFS=/ read -r -a parts <<<"${ES_DIR#/}"
  for d in "${parts[@]}"; do
    path=$path/$d
    if ! _es_run_as test -x "$path" 2>/dev/null; then
      say "chmod o+x $path (so $ES_USER can reach $ES_DIR)"
      chmod o+x "$path" || die "cannot make $path traversable for $ES_USER"
    fi
  done
  _es_run_as test -w "$ES_DIR/data" 2>/dev/null \
    || die "$ES_USER cannot write $ES_DIR/data; fix permissions or set SLUICE_STACK_DIR elsewhere"
}

_es_chown() {
  _es_as_root || return 0
  chown -R "$ES_USER:$ES_USER" "$@"
}

elasticsearch_install() {
  _es_pick
  local home=$ES_DIR/elasticsearch-$ES_VERSION marker=$ES_DIR/.installed
  if [ -f "$marker" ] && [ -x "$home/bin/elasticsearch" ] \
     && grep -qx "ES_VERSION=$ES_VERSION" "$marker"; then
    grep -qx "ES_JAVA_HOME=$ES_JAVA_HOME" "$marker" \
      || printf 'ES_VERSION=%s\nES_JAVA_HOME=%s\n' "$ES_VERSION" "$ES_JAVA_HOME" >"$marker"
    return 0
  fi
  need mvn "install Maven (Debian package 'maven')"
  need unzip "install unzip (Debian package 'unzip')"
  need curl "install curl (Debian package 'curl')"
  _es_as_root && need setpriv "install util-linux (Debian package 'util-linux')"

  local zip; zip=$(m2_path "$ES_GROUP_ID" elasticsearch "$ES_VERSION" zip)
  if [ ! -s "$zip" ]; then
    say "fetching Elasticsearch $ES_VERSION from Maven Central (~130 MB)"
    # -Dmaven.repo.local so the file lands where m2_path looks even when SLUICE_M2_REPO is set
    local out
    out=$(mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" dependency:get \
      -Dtransitive=false -Dartifact="$ES_GROUP_ID:elasticsearch:$ES_VERSION:zip" 2>&1) || {
      printf '%s\n' "$out" | tail -n 20 >&2
      die "Maven could not fetch $ES_GROUP_ID:elasticsearch:$ES_VERSION:zip (is Maven Central reachable?)"
    }
    [ -s "$zip" ] || die "Maven reported success but $zip is missing"
  fi

  say "unpacking Elasticsearch $ES_VERSION into $ES_DIR"
  mkdir -p "$ES_DIR"
  local tmp=$ES_DIR/.unpack.$$
  rm -rf "$tmp" "$home"
  unzip -q "$zip" -d "$tmp" || { rm -rf "$tmp"; die "could not unzip $zip"; }
  mv "$tmp/elasticsearch-$ES_VERSION" "$home" && rm -rf "$tmp"
  mkdir -p "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"

  _es_ensure_user
  _es_chown "$ES_DIR"
  _es_ensure_access
  printf 'ES_VERSION=%s\nES_JAVA_HOME=%s\n' "$ES_VERSION" "$ES_JAVA_HOME" >"$marker"
  say "Elasticsearch $ES_VERSION installed (JDK $ES_JAVA_HOME)"
}

elasticsearch_start() {
  local marker=$ES_DIR/.installed ES_VERSION='' ES_JAVA_HOME=''
  [ -f "$marker" ] || die "Elasticsearch is not installed in $ES_DIR (run elasticsearch_install)"
  ES_VERSION=$(sed -n 's/^ES_VERSION=//p' "$marker")
  ES_JAVA_HOME=$(sed -n 's/^ES_JAVA_HOME=//p' "$marker")
  local home=$ES_DIR/elasticsearch-$ES_VERSION
  [ -x "$home/bin/elasticsearch" ] || die "$home is incomplete (remove $marker and reinstall)"
  [ -x "$ES_JAVA_HOME/bin/java" ] || die "JDK $ES_JAVA_HOME for Elasticsearch is gone (rerun install)"

  mkdir -p "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"
  cat >"$home/config/elasticsearch.yml" <<EOF
# Written by scripts/stack.d/elasticsearch.sh at every start; edits are lost.
cluster.name: sluice-local
node.name: sluice-local-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $(_es_port)
transport.port: ${SLUICE_ES_TRANSPORT_PORT:-9300-9399}
path.data: $ES_DIR/data
path.logs: $ES_DIR/logs
# a nearly full dev disk must not turn indices read-only
cluster.routing.allocation.disk.threshold_enabled: false
# tests delete indices by wildcard
action.destructive_requires_name: false
# the integ-test-zip ships x-pack-security; a local dev node runs without auth/TLS
xpack.security.enabled: false
EOF
  _es_chown "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp" "$home/config"
  _es_ensure_access

  # setpriv execs (the recorded pid is ES's launcher, leader of the group that holds the server
  # JVM too); env -C puts the JVM's cwd (gc.log, heap dumps) in logs/.
  local ES_SU; _es_su
  start_bg elasticsearch "${ES_SU[@]}" env -i \
    PATH=/usr/local/bin:/usr/bin:/bin HOME="$ES_DIR/tmp" LANG=C.UTF-8 \
    ES_JAVA_HOME="$ES_JAVA_HOME" ES_JAVA_OPTS="${SLUICE_ES_JAVA_OPTS:--Xms1g -Xmx1g}" \
    ES_PATH_CONF="$home/config" ES_TMPDIR="$ES_DIR/tmp" \
    env -C "$ES_DIR/logs" "$home/bin/elasticsearch"
}

elasticsearch_healthy() {
  curl -fsS -m 3 "http://127.0.0.1:$(_es_port)/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null \
    | grep -qE '"status":"(green|yellow)"'
}

elasticsearch_endpoint() {
  printf 'elasticsearch  http://127.0.0.1:%s\n' "$(_es_port)"
}

# elasticsearch_reset: delete indices/cluster state (data/) and logs; keeps the install
elasticsearch_reset() {
  if is_running elasticsearch; then die "elasticsearch is running; stop it first (scripts/stack down)"; fi
  rm -rf "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"
  if [ -f "$ES_DIR/.installed" ]; then
    mkdir -p "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"
    _es_chown "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"
  fi
}
