#!/bin/bash
# Stop everything up.sh started, by pid file (nothing else is touched: the machine's own MariaDB, RabbitMQ
# and PostgreSQL keep running).  State (databases, images, logs) stays for the next up.sh unless --purge.
#
# Usage: test/peers/openstack/down.sh [--purge]
# Env:   OPENSTACK_STATE_DIR (default /var/lib/intercloud-openstack)
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

PURGE=0
case "${1:-}" in
  --purge) PURGE=1 ;;
  "") ;;
  -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
  *) die "unknown argument: $1 (usage: down.sh [--purge])" ;;
esac
[ -d "$STATE_DIR" ] || { log "nothing to stop: $STATE_DIR does not exist"; exit 0; }
exec 9>"$STATE_DIR/.up.lock"
flock -w 900 9 || die "up.sh is still running (lock $STATE_DIR/.up.lock)"

virsh_ok(){ command -v virsh >/dev/null && virsh -c qemu:///system version >/dev/null 2>&1; }
stop_group(){ # BASE TIMEOUT NAME... : stop these daemons of one cloud in parallel
  local base=$1 t=$2 pids=() sig n p; shift 2
  for n in "$@"; do
    [ -s "$base/run/$n.pid" ] || continue
    # uwsgi (keystone, placement, nova-api) answers SIGTERM with a graceful reload of its workers that can
    # hang; SIGINT is its "shut down now"
    sig=TERM; case $n in keystone|placement|nova-api) sig=INT ;; esac
    if alive "$base/run/$n.pid" "$base/"; then stop_pid "$base/run/$n.pid" "$(basename "$base")/$n" "$t" "$sig" & pids+=($!)
    else rm -f "$base/run/$n.pid"; fi
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
}

for c in "${CLOUDS[@]}"; do
  n=${c%%:*}; base=$STATE_DIR/$n
  [ -d "$base/run" ] || continue
  log "$n: stopping"
  # QEMU guests belong to libvirtd, not to nova-compute: power off this cloud's domains (named $n-xxxxxxxx).
  # Their definitions stay, so Nova finds them SHUTOFF after the next up.sh.
  if virsh_ok; then
    for d in $(virsh -c qemu:///system list --name | grep "^$n-" || true); do
      virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 && echo "  powered off guest $d" || true
    done
    if [ $PURGE = 1 ]; then   # the Nova database goes away too: so do the domain definitions
      for d in $(virsh -c qemu:///system list --all --name | grep "^$n-" || true); do
        virsh -c qemu:///system undefine "$d" >/dev/null 2>&1 && echo "  undefined guest $d" || true
      done
    fi
  fi
  stop_group "$base" 60 nova-api nova-compute nova-compute-qemu nova-scheduler nova-conductor neutron-server placement glance-api keystone
  stop_group "$base" 60 rabbitmq mysqld
  stop_group "$base" 10 epmd
done

lv=$STATE_DIR/libvirt
if [ -d "$lv" ]; then
  # only the libvirtd/virtlogd that up.sh started; a libvirtd that was already running is left alone
  if alive "$lv/libvirtd.pid" "$lv/" && virsh_ok; then
    left=$(virsh -c qemu:///system list --name | grep -c . || true)
    [ "$left" = 0 ] || log "note: $left other libvirt guest(s) still running; stopping libvirtd anyway (they keep running)"
  fi
  stop_pid "$lv/libvirtd.pid" libvirtd 30
  stop_pid "$lv/virtlogd.pid" virtlogd 10
fi

left=$(grep -l "OSP_OWNER=$STATE_DIR/" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true)
if [ -n "$left" ]; then
  log "still running (tagged OSP_OWNER=$STATE_DIR/...): $(echo "$left" | tr '\n' ' ')"
fi

if [ $PURGE = 1 ]; then
  [ -f "$STATE_DIR/.up.lock" ] || die "refusing to purge $STATE_DIR: it does not look like an up.sh state dir"
  rm -rf "${STATE_DIR:?}"/os-* "${STATE_DIR:?}"/libvirt "${STATE_DIR:?}"/images "${STATE_DIR:?}"/clouds.json "${STATE_DIR:?}"/up-history.log
  log "purged $STATE_DIR"
fi
log "down.sh done"
