# shellcheck shell=bash
# Helpers shared by scripts/services/{postgres,mariadb,kafka}. Sourced, not run.
# Progress goes to stderr so that `SCRIPT env` prints nothing but `export` lines.

DTEG_SERVICES_DIR="${DTEG_SERVICES_DIR:-/tmp/dteg-services}"
DTEG_CACHE_DIR="${DTEG_CACHE_DIR:-${HOME:-/root}/.cache/dteg}"
# Seconds to wait for a service to answer after starting it.
DTEG_SERVICE_TIMEOUT="${DTEG_SERVICE_TIMEOUT:-90}"

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

# pid_alive PID [PATTERN]: true when PID runs and (if given) its command line contains PATTERN.
pid_alive() {
  local pid="$1" pattern="${2:-}"
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [ -z "$pattern" ] && return 0
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$pattern"* ]]
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

# stop_pid PID PATTERN WHAT: SIGTERM, wait up to DTEG_SERVICE_TIMEOUT s, then SIGKILL.
stop_pid() {
  local pid="$1" pattern="$2" what="$3" waited=0
  kill -TERM "$pid" 2>/dev/null || true
  while pid_alive "$pid" "$pattern"; do
    if [ "$waited" -ge "$DTEG_SERVICE_TIMEOUT" ]; then
      log "$what (pid $pid) still running after ${DTEG_SERVICE_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 1
    waited=$((waited + 1))
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
