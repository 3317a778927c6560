# shellcheck shell=bash
# Shared by scripts/peers/{install,start,stop}.sh. Sourced, never executed.
# Works on a fresh Debian 12 machine as root without systemd: apt never starts daemons here
# (policy-rc.d), so every peer is started by its full binary path and stopped by its PID file.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8 LANG=C.UTF-8

PEERS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEERS_SRC=$(dirname "$PEERS_LIB")
STATE_DIR=${INTERCLOUD_PEERS_DIR:-/var/lib/intercloud-peers}

# Ports: below the ephemeral range (32768+) so a listener never loses its port to an outgoing
# connection, and clear of what else runs on this machine kind (4000 broker, 5432 PostgreSQL,
# 3306 MariaDB, 5672 RabbitMQ, 6379, 1883, 4222, the OpenStack test clouds on 1xxxx/2xxxx,
# 8600/8700 the sandbox).
APACHE_PORT=${PEERS_APACHE_PORT:-5380}            # Nagios CGIs (statusjson.cgi), basic auth
KAM_DS_SIP_PORT=${PEERS_KAMAILIO_SIP_PORT:-5060}  # Kamailio reading the `dispatcher` table
KAM_DS_RPC_PORT=${PEERS_KAMAILIO_RPC_PORT:-5080}  #   its JSON-RPC over HTTP
KAM_LB_SIP_PORT=${PEERS_KAMAILIO_LB_SIP_PORT:-5062}  # Kamailio reading the OpenSIPS `load_balancer` table (view)
KAM_LB_RPC_PORT=${PEERS_KAMAILIO_LB_RPC_PORT:-5082}
SSHD_PORT=${PEERS_SSHD_PORT:-2222}                # one sshd for every 127.x.y.z "VM"
MYSQL_HOST=${PEERS_MYSQL_HOST:-127.0.0.1}          # the machine's MariaDB (root, no password)
MYSQL_PORT=${PEERS_MYSQL_PORT:-3306}
LB_DATABASE=${PEERS_LB_DATABASE:-intercloud_sip_lb}
LB_DB_USER=intercloud_lb

# Accounts the sshd lets in (with the test key): one with passwordless sudo, one without any.
SUDO_USER_NAME=icpeer
PLAIN_USER_NAME=icplain
NAGIOS_WEB_USER=nagiosadmin

ts() { date -u +%H:%M:%S; }
log() { echo "$(ts) [peers] $*"; }
die() { echo "$(ts) [peers] ERROR: $*" >&2; exit 1; }

# The state lives outside the git work tree: keys, databases and logs are not project files.
check_state_dir() {
  local top sd
  top=$(git -C "$PEERS_SRC" rev-parse --show-toplevel 2>/dev/null || true)
  sd=$(realpath -m "$STATE_DIR")
  if [ -n "$top" ]; then
    case "$sd/" in "$(realpath -m "$top")"/*) die "INTERCLOUD_PEERS_DIR=$STATE_DIR is inside the git work tree $top" ;; esac
  fi
  STATE_DIR=$sd
}

# alive PIDFILE [MARKER]: the PID in PIDFILE is a live, non-zombie process whose command line
# contains MARKER (our state dir, so a PID reused after a restart is not taken for ours).
alive() {
  local pf=$1 want=${2:-} pid st
  [ -s "$pf" ] || return 1
  pid=$(tr -dc 0-9 < "$pf" 2>/dev/null) || return 1; [ -n "$pid" ] || return 1   # the daemon may remove it meanwhile
  [ -r "/proc/$pid/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ "$st" != Z ] || return 1
  [ -z "$want" ] && return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$want"
}

# stop_pid PIDFILE NAME [MARKER]: TERM, then KILL after 15 s; only the process named by the file.
stop_pid() {
  local pf=$1 name=$2 want=${3:-} pid
  if ! alive "$pf" "$want"; then rm -f "$pf"; log "$name: not running"; return 0; fi
  pid=$(tr -dc 0-9 < "$pf")
  kill "$pid" 2>/dev/null || true
  # alive, not kill -0: a zombie nobody has reaped yet has stopped.
  for _ in $(seq 1 150); do alive "$pf" || break; sleep 0.1; done
  if alive "$pf"; then kill -KILL "$pid" 2>/dev/null || true; log "$name: killed pid $pid (did not stop on TERM)"; else log "$name: stopped pid $pid"; fi
  rm -f "$pf"
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.2 s (a hang guard for start-up).
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}

# replace_if_changed NEW OUT: moves NEW over OUT unless they are equal; status 0 when OUT changed.
# Lets a re-run leave running daemons alone when their configuration is what they already have.
replace_if_changed() {
  local new=$1 out=$2
  if [ -f "$out" ] && cmp -s "$new" "$out"; then rm -f "$new"; return 1; fi
  mv -f "$new" "$out"
}

# render TEMPLATE OUT KEY=VALUE...: copies TEMPLATE with every @KEY@ replaced (values must not
# contain '|'); status 0 when OUT changed.
render() {
  local src=$1 out=$2; shift 2
  local args=() kv
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$src" > "$out.tmp"
  replace_if_changed "$out.tmp" "$out"
}

mysql_root() { mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u root --batch --skip-column-names "$@"; }

# A secret generated once and kept in the state dir (rw for root only).
secret_file() {
  local f=$1
  [ -s "$f" ] || { umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$f"; }
  cat "$f"
}
