# Shared helpers for scripts/stack and its component files (sourced, not run).
# Contract for a component file scripts/stack.d/<name>.sh — it defines:
#   <name>_install   idempotent; downloads into $STACK_DIR (reusing caches); fast no-op when done
#   <name>_start     starts the server in the background with start_bg (pid file), returns at once
#   <name>_healthy   exit 0 when the server answers its health check
#   <name>_endpoint  prints one line "name  url" describing where it listens
#   <name>_after_start  (optional) idempotent set-up once the server is healthy, run by up and start
# Everything lives under $STACK_DIR (default <repo>/.stack, gitignored):
#   $STACK_DIR/<name>/...   install and data
#   $STACK_DIR/run/<name>.pid, $STACK_DIR/logs/<name>.log
set -o pipefail

REPO_DIR=${REPO_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STACK_DIR=${SLUICE_STACK_DIR:-$REPO_DIR/.stack}
RUN_DIR=$STACK_DIR/run
LOG_DIR=$STACK_DIR/logs
# Maven's local repository doubles as the download cache for every JVM component.
M2_REPO=${SLUICE_M2_REPO:-$HOME/.m2/repository}
mkdir -p "$STACK_DIR" "$RUN_DIR" "$LOG_DIR"

say()  { printf '[stack] %s\n' "$*" >&2; }
die()  { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

need() { # need <command> <what to install>
  command -v "$1" >/dev/null 2>&1 || die "'$1' is required but was not found on PATH: $2"
}

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# is_running <name>: the pid in the pid file is alive
is_running() {
  local f; f=$(pid_file "$1")
  [ -f "$f" ] || return 1
  local pid; pid=$(cat "$f" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# start_bg <name> <command...>: run detached in its own process group, log to $LOG_DIR/<name>.log
start_bg() {
  local name=$1; shift
  local log=$LOG_DIR/$name.log
  : >"$log"
  setsid "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

# stop_pid <name>: SIGTERM the recorded process group, wait up to 30 s, then SIGKILL. Only
# the pid recorded by start_bg is touched.
stop_pid() {
  local name=$1 f pid i
  f=$(pid_file "$name")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop in 30 s; killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$f"
}

# wait_for <name> <seconds> <check command...>
wait_for() {
  local name=$1 secs=$2; shift 2
  local i
  for i in $(seq 1 "$secs"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! is_running "$name"; then
      say "$name exited while starting; last lines of $LOG_DIR/$name.log:"
      tail -n 30 "$LOG_DIR/$name.log" >&2
      return 1
    fi
    sleep 1
  done
  say "$name not healthy after ${secs}s; last lines of $LOG_DIR/$name.log:"
  tail -n 30 "$LOG_DIR/$name.log" >&2
  return 1
}

# mvn_fetch <groupId:artifactId:version[:packaging[:classifier]]>: into the local repo, quietly.
mvn_fetch() {
  need mvn "install Maven (Debian package 'maven')"
  local out
  out=$(mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" dependency:get -Dtransitive=false -Dartifact="$1" 2>&1) \
    || { printf '%s\n' "$out" >&2; die "Maven could not fetch $1 (is Maven Central reachable?)"; }
}

# m2_path <groupId> <artifactId> <version> [ext] [classifier]: path of an artifact in the local repo
m2_path() {
  local g=${1//./\/} a=$2 v=$3 ext=${4:-jar} c=${5:-}
  printf '%s/%s/%s/%s/%s-%s%s.%s' "$M2_REPO" "$g" "$a" "$v" "$a" "$v" "${c:+-$c}" "$ext"
}

http_ok() { curl -fsS -m 3 -o /dev/null "$1"; }
