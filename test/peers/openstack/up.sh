#!/bin/bash
# Bring up two real OpenStack clouds (Debian 12 packages, Zed era) side by side on 127.0.0.1, idempotently:
#   os-a  source cloud: fake-driver compute (AZ "nova") + libvirt/QEMU compute (AZ "qemu": createImage yields
#         real bytes; boot there with "networks": "none")          ports 2xxxx (keystone 25000)
#   os-b  target cloud: fake-driver compute (AZ "nova")           ports 1xxxx (keystone 15000)
# and write ${OPENSTACK_STATE_DIR}/clouds.json for the test suites.
#
# Usage: test/peers/openstack/up.sh [--packages-only]
# Env:   OPENSTACK_STATE_DIR   state/config/logs (default /var/lib/intercloud-openstack; not inside the work tree)
#        OPENSTACK_PARALLEL=0  configure the two clouds one after the other (default: side by side)
#        OPENSTACK_OS_A_PORT_OFFSET / OPENSTACK_OS_B_PORT_OFFSET   (defaults 20000 / 10000)
# Re-running is cheap: running, answering services are reused, missing ones (e.g. after a machine restart)
# are started, one-off steps are stamped.  Stop with down.sh.  Needs root (apt-get, libvirtd).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

PACKAGES_ONLY=0
case "${1:-}" in
  --packages-only) PACKAGES_ONLY=1 ;;
  "") ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) die "unknown argument: $1 (usage: up.sh [--packages-only])" ;;
esac
[ "$(id -u)" = 0 ] || die "up.sh must run as root (apt-get, libvirtd, private MariaDB/RabbitMQ)"
# Daemons keep the working directory they start in: never a work tree that may be deleted while
# they run (RabbitMQ, for one, then fails every command it spawns, and a re-run cannot reuse it).
cd /

# the state must live outside the git work tree (databases, images and logs are not project files)
TOP=$(git -C "$OSP_DIR" rev-parse --show-toplevel 2>/dev/null || true)
SD=$(realpath -m "$STATE_DIR")
if [ -n "$TOP" ]; then
  case "$SD/" in "$(realpath -m "$TOP")"/*) die "OPENSTACK_STATE_DIR=$STATE_DIR is inside the git work tree $TOP" ;; esac
fi
STATE_DIR=$SD; export OPENSTACK_STATE_DIR=$SD
mkdir -p "$STATE_DIR"
# one up.sh at a time per state dir (a second one waits, then finds everything up: fast path)
exec 9>"$STATE_DIR/.up.lock"
flock -w 1800 9 || die "another up.sh holds $STATE_DIR/.up.lock for more than 30 minutes"

log "up.sh: state dir $STATE_DIR"
A0=$(date +%s)
install_packages
APT_S=$(( $(date +%s) - A0 ))
[ $PACKAGES_ONLY = 1 ] && { log "packages only: done"; exit 0; }

# ---------------------------------------------------------------------------------------------
# libvirtd (machine-wide, needed by os-a's QEMU compute).  Reused if one already answers.
ensure_libvirt(){
  local lv=$STATE_DIR/libvirt
  mkdir -p "$lv"
  if ! grep -q 'added by intercloud test/peers/openstack' /etc/libvirt/qemu.conf; then
    # run guests as root without security drivers or cgroups: none of that is available without systemd
    printf '%s\n' '# --- added by intercloud test/peers/openstack/up.sh ---' 'user = "root"' 'group = "root"' \
      'dynamic_ownership = 0' 'security_driver = "none"' 'cgroup_controllers = [ ]' 'stdio_handler = "file"' \
      >> /etc/libvirt/qemu.conf
  fi
  # libvirt's "default" NAT network would create a bridge and iptables rules on this machine: keep it off
  rm -f /etc/libvirt/qemu/networks/autostart/default.xml
  if virsh -c qemu:///system version >/dev/null 2>&1; then log "libvirtd: reusing the running one"; return 0; fi
  export OSP_OWNER=$lv/
  alive "$lv/virtlogd.pid" "$lv/" || spawn "$lv/virtlogd.pid" "$lv/virtlogd.out" virtlogd
  alive "$lv/libvirtd.pid" "$lv/" || spawn "$lv/libvirtd.pid" "$lv/libvirtd.out" libvirtd
  for i in $(seq 1 60); do
    virsh -c qemu:///system version >/dev/null 2>&1 && { log "libvirtd: started pid $(cat "$lv/libvirtd.pid")"; return 0; }
    alive "$lv/libvirtd.pid" || break
    sleep 1
  done
  tail -n 30 "$lv/libvirtd.out" >&2 || true
  die "libvirtd did not come up within 60s (log $lv/libvirtd.out)"
}
for c in "${CLOUDS[@]}"; do [ "${c##*:}" = 1 ] && { ensure_libvirt; break; }; done

# ---------------------------------------------------------------------------------------------
# configure + start the clouds (side by side by default: 2 cores, mostly waiting on Python start-up)
run_all(){ # label script-args-producer ; runs "$@"-style jobs per cloud, in parallel unless OPENSTACK_PARALLEL=0
  local what=$1; shift
  local pids=() names=() i rc=0
  for c in "${CLOUDS[@]}"; do
    IFS=: read -r n o q <<<"$c"
    if [ "${OPENSTACK_PARALLEL:-1}" = 0 ]; then
      "$what" "$n" "$o" "$q" || die "$what $n failed (see above)"
    else
      "$what" "$n" "$o" "$q" & pids+=($!); names+=("$n")
    fi
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || { rc=1; echo "$(ts) ERROR: $what ${names[$i]} failed (see above)" >&2; }; done
  return $rc
}
start_cloud(){ bash "$OSP_LIB/cloud.sh" "$1" "$2" "$3"; }
seed_cloud(){
  local idx=0; [ "$1" = os-b ] && idx=1
  local s0; s0=$(date +%s)
  python3 "$OSP_LIB/seed.py" "$1" "$idx" "$STATE_DIR" > "$STATE_DIR/$1/seed.json.tmp" \
    || { echo "$(ts) ERROR: seeding $1 failed (logs in $STATE_DIR/$1/log)" >&2; return 1; }
  mv "$STATE_DIR/$1/seed.json.tmp" "$STATE_DIR/$1/seed.json"
  echo $(( $(date +%s) - s0 )) > "$STATE_DIR/$1/run/last-seed-seconds"
}
B0=$(date +%s)
run_all start_cloud || die "bringing up the clouds failed"
log "clouds configured and running ($(( $(date +%s) - B0 ))s)"
S0=$(date +%s)
run_all seed_cloud || die "seeding the clouds failed"
log "clouds seeded ($(( $(date +%s) - S0 ))s)"

# ---------------------------------------------------------------------------------------------
python3 - "$STATE_DIR" "${CLOUDS[@]}" <<'EOF'
import json, os, sys, time
state, clouds = sys.argv[1], [c.split(":")[0] for c in sys.argv[2:]]
doc = {"generatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "stateDir": state,
       "clouds": [json.load(open(os.path.join(state, n, "seed.json"))) for n in clouds]}
tmp = os.path.join(state, "clouds.json.tmp")
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2)
os.chmod(tmp, 0o644)
os.replace(tmp, os.path.join(state, "clouds.json"))
EOF
log "wrote $STATE_DIR/clouds.json"

# ---------------------------------------------------------------------------------------------
# report: timings and memory (PSS: shared pages split among the processes that share them)
pss_of_session(){ # sid -> kB
  local sid=$1 p t=0 v
  for p in $(ps -o pid= -s "$sid" 2>/dev/null); do
    v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true); t=$(( t + ${v:-0} ))
  done
  echo $t
}
TOTAL_KB=0
SUMMARY="apt: $([ "$APT_SKIPPED" = 1 ] && echo "skipped (all installed)" || echo "${APT_S}s")"
for c in "${CLOUDS[@]}"; do
  n=${c%%:*}; kb=0
  for pf in "$STATE_DIR/$n"/run/*.pid; do alive "$pf" "$STATE_DIR/$n/" && kb=$(( kb + $(pss_of_session "$(cat "$pf")") )); done
  for p in $(pgrep -f "guest=$n-" || true); do
    v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true); kb=$(( kb + ${v:-0} ))
  done
  TOTAL_KB=$(( TOTAL_KB + kb ))
  SUMMARY="$SUMMARY; $n: configure+start $(cat "$STATE_DIR/$n/run/last-up-seconds")s, seed $(cat "$STATE_DIR/$n/run/last-seed-seconds")s, memory $(( kb / 1024 )) MiB"
done
lkb=0
for pf in "$STATE_DIR"/libvirt/*.pid; do [ -e "$pf" ] && alive "$pf" "$STATE_DIR/libvirt/" && lkb=$(( lkb + $(pss_of_session "$(cat "$pf")") )); done
TOTAL_KB=$(( TOTAL_KB + lkb ))
SUMMARY="$SUMMARY; libvirt $(( lkb / 1024 )) MiB; total memory $(( TOTAL_KB / 1024 )) MiB; wall time $(( $(date +%s) - T0 ))s"
log "SUMMARY: $SUMMARY"
echo "$(date -u +%FT%TZ) $SUMMARY" >> "$STATE_DIR/up-history.log"
log "clouds.json: $STATE_DIR/clouds.json   admin CLI: . $STATE_DIR/os-a/adminrc   stop: $OSP_DIR/down.sh"
