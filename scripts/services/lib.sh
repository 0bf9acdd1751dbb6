# shellcheck shell=bash
# Helpers shared by scripts/services/{postgres,mariadb,kafka,s3}. Sourced, not run.
# Progress goes to stderr so that `SCRIPT env` prints nothing but `export` lines.

DTEG_SERVICES_DIR="${DTEG_SERVICES_DIR:-/tmp/dteg-services}"
DTEG_CACHE_DIR="${DTEG_CACHE_DIR:-${HOME:-/root}/.cache/dteg}"
# Seconds to wait for a service to answer after starting it (and for one to exit when
# stopping it). Generous: a JVM on a busy 2-core CI machine can take a minute to answer.
DTEG_SERVICE_TIMEOUT="${DTEG_SERVICE_TIMEOUT:-180}"

SERVICE_NAME="${SERVICE_NAME:-service}"

log() { printf '[%s] %s\n' "$SERVICE_NAME" "$*" >&2; }

die() {
  printf '[%s] ERROR: %s\n' "$SERVICE_NAME" "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Prints the last lines of a log file to stderr (used when a start fails).
show_log_tail() {
  local file="$1" lines="${2:-40}"
  if [ -f "$file" ]; then
    printf '[%s] --- last %s lines of %s ---\n' "$SERVICE_NAME" "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2 || true
    printf '[%s] --- end of log ---\n' "$SERVICE_NAME" >&2
  else
    printf '[%s] (no log file at %s)\n' "$SERVICE_NAME" "$file" >&2
  fi
}

# apt_install PKG... : installs Debian packages (needs root). Runs `apt-get update`
# only when the plain install fails (a fresh machine has empty package lists).
apt_install() {
  is_root || die "need root to install Debian packages: $* (install them first, or run as root)"
  local out
  out="$(mktemp)"
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  local -a opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
  if ! apt-get install "${opts[@]}" "$@" >"$out" 2>&1; then
    log "apt-get install failed; running apt-get update and trying again"
    if ! { apt-get update -q -o DPkg::Lock::Timeout=600 && apt-get install "${opts[@]}" "$@"; } >"$out" 2>&1; then
      show_log_tail "$out" 30
      rm -f "$out"
      die "could not install: $*"
    fi
  fi
  rm -f "$out"
}

# glob_literal TEXT: TEXT with the glob characters escaped, for a pattern of proc_matches.
glob_literal() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\*/\\*}"
  s="${s//\?/\\?}"
  s="${s//\[/\\[}"
  printf '%s' "$s"
}

# proc_matches PID EXE_GLOB ARG_GLOB...: true when PID is a live process (not a zombie: a
# zombie has no command line) whose program name (basename of argv[0]) matches EXE_GLOB and
# which has, for each ARG_GLOB, an argument matching it. A shell that will `exec` the server
# has another argv[0] (bash, setsid), so it does not count as the server itself.
proc_matches() {
  local pid="$1" exe_glob="$2"
  shift 2
  local -a args=()
  mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
  [ "${#args[@]}" -gt 0 ] || return 1
  # shellcheck disable=SC2053 # globs on purpose
  [[ "${args[0]##*/}" == $exe_glob ]] || return 1
  local want arg found
  for want in "$@"; do
    found=
    for arg in "${args[@]:1}"; do
      # shellcheck disable=SC2053
      if [[ "$arg" == $want ]]; then
        found=1
        break
      fi
    done
    [ -n "$found" ] || return 1
  done
}

# find_pids EXE_GLOB ARG_GLOB...: every live process that proc_matches, one pid a line,
# oldest first. Finds a server whose pid file is missing or names another process.
find_pids() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    if [ "$pid" != "$$" ] && proc_matches "$pid" "$@"; then
      printf '%s\n' "$pid"
    fi
  done | sort -n
}

# launch_detached PIDFILE LOG COMMAND...: starts COMMAND in its own session (it outlives the
# calling script and a Ctrl-C in its terminal), stdout and stderr appended to LOG, and writes
# the pid of COMMAND itself to PIDFILE before returning. `$!` of `setsid COMMAND &` is not
# always that pid: when the background job leads its process group (job control on, e.g.
# SHELLOPTS with monitor exported by the caller), setsid forks and `$!` is a launcher that
# exits at once. Here the session's shell writes its own pid, then `exec`s COMMAND, so the
# pid stays the same. Descriptors 8 and 9 are closed (a held flock must not be inherited).
launch_detached() {
  local pidfile="$1" log="$2"
  shift 2
  rm -f "$pidfile" "$pidfile.new"
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c 'echo $$ >"$0.new" && mv -f "$0.new" "$0" && exec "$@"' "$pidfile" "$@" \
    >>"$log" 2>&1 </dev/null 8>&- 9>&- &
  local launcher=$! deadline=$((SECONDS + DTEG_SERVICE_TIMEOUT)) grace=""
  until [ -s "$pidfile" ]; do
    if [ -z "$grace" ] && process_gone "$launcher"; then
      grace=$((SECONDS + 10)) # setsid forked: its child writes the file in a moment
    fi
    if [ "$SECONDS" -ge "$deadline" ] || { [ -n "$grace" ] && [ "$SECONDS" -ge "$grace" ]; }; then
      return 1
    fi
    sleep 0.1
  done
}

# process_gone PID: true when PID no longer runs. A zombie whose threads have all exited
# counts as gone (pid 1 here may never reap it; it holds no ports or files), but a process
# whose main thread is a zombie while other threads still run (a killed JVM writing out its
# files) does not: it can still hold its ports and its data folder's lock.
process_gone() {
  local pid="$1" stat="" state tasks
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  read -r stat 2>/dev/null <"/proc/$pid/stat" || return 0
  state="${stat##*) }"
  state="${state%% *}"
  [ "$state" = Z ] || [ "$state" = X ] || return 1
  tasks=("/proc/$pid/task/"*)
  [ "${#tasks[@]}" -le 1 ]
}

# wait_ports_free HOST SECONDS PORT...: waits until nothing accepts connections on those
# ports (a process that has just exited may keep them a moment); false when time runs out.
wait_ports_free() {
  local host="$1" seconds="$2" port deadline
  shift 2
  deadline=$((SECONDS + seconds))
  for port in "$@"; do
    while tcp_open "$host" "$port"; do
      [ "$SECONDS" -lt "$deadline" ] || return 1
      sleep 0.2
    done
  done
}

# with_lock FILE COMMAND...: runs COMMAND holding an exclusive flock on FILE (descriptor 9),
# so that two start/stop calls for the same state folder (two test sessions) do not
# interleave. The lock is released when COMMAND returns or the script exits (also on `die`).
# A server started under it must not inherit descriptor 9 (launch_detached closes it; add
# `9>&-` to anything else that leaves a process behind), or it holds the lock for good.
with_lock() {
  local file="$1"
  shift
  if ! command -v flock >/dev/null; then
    "$@"
    return
  fi
  mkdir -p "$(dirname "$file")"
  exec 9>>"$file"
  if ! flock -w "$((DTEG_SERVICE_TIMEOUT * 2))" 9; then
    die "another start/stop of this service holds $file for more than $((DTEG_SERVICE_TIMEOUT * 2))s"
  fi
  "$@"
  exec 9>&-
}

# read_pid FILE: prints the first number in FILE, or nothing.
read_pid() {
  local file="$1" pid=""
  if [ -f "$file" ]; then
    read -r pid <"$file" 2>/dev/null || true
  fi
  case "$pid" in
    '' | *[!0-9]*) return 0 ;;
    *) printf '%s\n' "$pid" ;;
  esac
}

# tcp_open HOST PORT: true when something accepts TCP connections there.
tcp_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# port_owner PORT...: who listens on those TCP ports, for an error message ("unknown" when
# `ss` cannot tell, e.g. another user's process without root).
port_owner() {
  local port filter="" out=""
  for port in "$@"; do
    filter+="${filter:+ or }sport = :$port"
  done
  if command -v ss >/dev/null; then
    out="$(ss -ltnpH "( $filter )" 2>/dev/null | awk '{ print $4, $6 }' | tr '\n' ' ' || true)"
  fi
  printf '%s\n' "${out:-owner unknown}"
}

# stop_pid PID WHAT: SIGTERM, then waits until PID is gone (process_gone: a zombie counts,
# a process still running threads does not); SIGKILL after DTEG_SERVICE_TIMEOUT s.
stop_pid() {
  local pid="$1" what="$2" deadline=$((SECONDS + DTEG_SERVICE_TIMEOUT)) killed=""
  kill -TERM "$pid" 2>/dev/null || true
  until process_gone "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      [ -z "$killed" ] || die "$what (pid $pid) did not exit even after SIGKILL"
      log "$what (pid $pid) still running after ${DTEG_SERVICE_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      killed=1
      deadline=$((SECONDS + 60))
    fi
    sleep 0.1
  done
}

usage() {
  cat >&2 <<EOF
usage: $0 start|stop|restart|status|env
  start    install if missing, start on 127.0.0.1 and wait until it answers (no-op if running)
  stop     stop it and wait (no-op if not running)
  restart  stop, then start
  status   exit 0 and say so if it is running and answers; exit 3 if not running
  env      print 'export VAR=...' lines for tests: eval "\$($0 env)"
EOF
}
