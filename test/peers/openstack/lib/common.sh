# shellcheck shell=bash
# Shared helpers for test/peers/openstack/{up,down,verify}.sh.  Sourced, never executed.
# Everything here must work on a fresh Debian 12 machine as root, without systemd.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin          # Debian's python3 (the OpenStack libraries live there), not pyenv's
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8 LANG=C.UTF-8

OSP_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OSP_DIR=$(dirname "$OSP_LIB")
STATE_DIR=${OPENSTACK_STATE_DIR:-/var/lib/intercloud-openstack}

# The two clouds: name, port offset, whether it gets the libvirt/QEMU compute (AZ "qemu").
# Ports = offset + {mariadb 3306, epmd 4369, keystone 5000, rabbitmq 5682, rabbit-dist 5683,
#                   nova 8774, placement 8778, glance 9292, neutron 9696}.
# Offsets are chosen so that (a) nothing collides with the machine's own MariaDB 3306, RabbitMQ
# 5672 / its Erlang distribution port 25672, epmd 4369, PostgreSQL 5432, and (b) every port stays BELOW
# the kernel's ephemeral range (32768-60999 by default): a listener inside that range can fail to
# (re)bind with EADDRINUSE when some outgoing connection happens to hold the same local port.
OS_A_OFFSET=${OPENSTACK_OS_A_PORT_OFFSET:-20000}
OS_B_OFFSET=${OPENSTACK_OS_B_PORT_OFFSET:-10000}
CLOUDS=("os-a:$OS_A_OFFSET:1" "os-b:$OS_B_OFFSET:0")

# Packages (Debian 12 "bookworm": Keystone 22, Glance 25, Placement 8, Neutron 21, Nova 26).
OSP_PACKAGES=(
  curl ca-certificates iproute2 procps sudo python3 mariadb-server mariadb-client rabbitmq-server
  keystone glance-api placement-api nova-api nova-conductor nova-scheduler neutron-api neutron-rpc-server
  uwsgi-core uwsgi-plugin-python3
  python3-openstackclient python3-osc-placement python3-glanceclient python3-novaclient python3-neutronclient
  python3-openstacksdk python3-keystoneclient
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients python3-libvirt
)

T0=${OSP_T0:-$(date +%s)}; export OSP_T0=$T0
ts(){ date -u +%H:%M:%S; }
log(){ echo "$(ts) [+$(( $(date +%s) - T0 ))s] $*"; }
die(){ echo "$(ts) ERROR: $*" >&2; exit 1; }

# ---- processes -------------------------------------------------------------------------------
# alive PIDFILE [OWNER]: the pid in PIDFILE is a live (non-zombie) process that was started by
# spawn() with OSP_OWNER=OWNER in its environment (or names OWNER on its command line): guards against
# pid reuse after a machine restart.
alive(){
  local pf=$1 want=${2:-} pid st
  [ -s "$pf" ] || return 1
  pid=$(tr -dc 0-9 < "$pf"); [ -n "$pid" ] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ "$st" != Z ] || return 1
  [ -z "$want" ] && return 0
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF -- "OSP_OWNER=$want" && return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$want"
}
# spawn PIDFILE LOGFILE CMD...: start CMD detached in its own session (so the pid is also its
# process-group id, and down.sh can stop the daemon with all its workers), tagged with $OSP_OWNER.
spawn(){
  local pf=$1 lf=$2; shift 2
  [ -n "${OSP_OWNER:-}" ] || die "spawn: OSP_OWNER not set"
  # 9>&-: do not hand up.sh's lock (fd 9) to the daemon, or the lock would outlive up.sh
  OSP_OWNER=$OSP_OWNER setsid nohup "$@" >>"$lf" 2>&1 </dev/null 9>&- &
  echo $! >"$pf"
}
# stop_pid PIDFILE NAME [TIMEOUT] [SIGNAL]: signal the process group (default TERM), wait, then SIGKILL.
stop_pid(){
  local pf=$1 name=$2 t=${3:-60} sig=${4:-TERM} pid
  [ -s "$pf" ] || return 0
  pid=$(tr -dc 0-9 < "$pf")
  if [ -n "$pid" ] && alive "$pf"; then
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$t"); do alive "$pf" || break; sleep 1; done
    if alive "$pf"; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; sleep 1; echo "  killed $name (pid $pid) after ${t}s"
    else echo "  stopped $name (pid $pid)"; fi
  fi
  rm -f "$pf"
}

# ---- ports -----------------------------------------------------------------------------------
port_listening(){ ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
port_holder(){ ss -Hltnp "sport = :$1" 2>/dev/null | head -1; }
# require_free_port PORT SERVICE
require_free_port(){
  if port_listening "$1"; then die "port $1 needed by $2 is already taken by: $(port_holder "$1")"; fi
}
# wait_http URL SECONDS SERVICE LOGFILE: any HTTP answer counts as up
wait_http(){
  local url=$1 t=$2 svc=$3 lf=$4 code
  for _ in $(seq 1 "$t"); do
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" 2>/dev/null || true)
    [ -n "$code" ] && [ "$code" != 000 ] && return 0
    sleep 1
  done
  echo "$(ts) ERROR: $svc did not answer on $url within ${t}s; last lines of $lf:" >&2
  tail -n 30 "$lf" >&2 2>/dev/null || true
  exit 1
}
http_up(){ local code; code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true); [ -n "$code" ] && [ "$code" != 000 ]; }

# ---- packages --------------------------------------------------------------------------------
packages_missing(){
  local p missing=()
  for p in "${OSP_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  echo "${missing[*]:-}"
}
install_packages(){
  local missing; missing=$(packages_missing)
  APT_SKIPPED=1
  if [ -z "$missing" ]; then log "packages: all ${#OSP_PACKAGES[@]} already installed (apt skipped)"; return 0; fi
  APT_SKIPPED=0
  log "packages: installing (missing: $missing)"
  local a0; a0=$(date +%s)
  # The packages must not try to configure databases or register endpoints: we run private instances.
  debconf-set-selections <<'DEB'
dbconfig-common dbconfig-common/dbconfig-install boolean false
keystone keystone/configure_db boolean false
keystone keystone/create-admin-tenant boolean false
keystone keystone/register-endpoint boolean false
glance-common glance/configure_db boolean false
glance-api glance/register-endpoint boolean false
nova-common nova/configure_db boolean false
nova-api nova/register-endpoint boolean false
placement-common placement/configure_db boolean false
placement-api placement/register-endpoint boolean false
neutron-common neutron/configure_db boolean false
neutron-api neutron/register-endpoint boolean false
DEB
  local i
  for i in 1 2 3; do   # a mirror hiccup should not fail a CI run
    apt-get update -q -o DPkg::Lock::Timeout=900 && break
    [ $i = 3 ] && die "apt-get update failed 3 times"; sleep 10
  done
  for i in 1 2 3; do
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=900 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${OSP_PACKAGES[@]}" && break
    [ $i = 3 ] && die "apt-get install failed 3 times (see output above)"; sleep 10
  done
  log "packages: apt done in $(( $(date +%s) - a0 ))s"
}
