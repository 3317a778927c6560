#!/bin/bash
# Starts the real peers of the SIP service path on loopback and writes $INTERCLOUD_PEERS_DIR/peers.json
# (addresses, ports, credentials, file paths, host key fingerprints, test client keys):
#   nagios    Nagios 4 (private config, passive-check friendly) + Apache with the JSON CGIs,
#             basic auth, http://127.0.0.1:5380/cgi-bin/nagios4/statusjson.cgi
#   kamailio  two Kamailio dispatcher instances on the machine's MariaDB (database intercloud_sip_lb):
#             "ds" reads table dispatcher (SIP 5060, JSON-RPC 5080), "lb" reads the OpenSIPS
#             load_balancer table through the lb_dispatcher view (SIP 5062, JSON-RPC 5082)
#   sipp      checks sipp and the project's scenarios (workers: scripts/peers/sipp-worker.sh)
#   sshd      key-only sshd on 0.0.0.0:2222 for 127.0.0.0/8 clients, own host keys
# Usage: scripts/peers/start.sh [nagios|kamailio|sipp|sshd ...]   (default: all; peers.json needs all)
# Env:   INTERCLOUD_PEERS_DIR (default /var/lib/intercloud-peers; never inside the git work tree),
#        PEERS_APACHE_PORT, PEERS_KAMAILIO_SIP_PORT, PEERS_KAMAILIO_RPC_PORT, PEERS_KAMAILIO_LB_SIP_PORT,
#        PEERS_KAMAILIO_LB_RPC_PORT, PEERS_SSHD_PORT, PEERS_MYSQL_HOST, PEERS_MYSQL_PORT, PEERS_LB_DATABASE
# Re-running is cheap: what runs and answers is reused (configs re-rendered, daemons reloaded).
# Packages: scripts/peers/install.sh. Stop: scripts/peers/stop.sh. Needs root.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
for f in nagios kamailio sipp sshd peers-json; do . "$PEERS_LIB/$f.sh"; done
[ "$(id -u)" = 0 ] || die "start.sh must run as root (daemons drop to their own users; test accounts)"
case "${1:-}" in -h|--help) sed -n '2,17p' "$0"; exit 0 ;; esac
# Daemons keep the working directory they start in: never a work tree that may be deleted while they run.
cd /
check_state_dir
mkdir -p "$STATE_DIR"; chmod 755 "$STATE_DIR"
# One start.sh at a time per state dir.
exec 9>"$STATE_DIR/.start.lock"
flock -w 600 9 || die "another start.sh holds $STATE_DIR/.start.lock"

peers=("$@"); [ ${#peers[@]} -gt 0 ] || peers=(nagios kamailio sipp sshd)
for p in "${peers[@]}"; do
  case "$p" in
    nagios|kamailio|sipp|sshd) "start_$p" 9>&- ;;
    *) die "unknown peer $p (nagios, kamailio, sipp, sshd)" ;;
  esac
done
if [ -f "$NAG/etc/.web-password" ] && [ -f "$KAM/.db-password" ] && [ -f "$SSHD/client_ed25519" ]; then
  write_peers_json
else
  log "peers.json not written: start all four peers once"
fi
log "ready (state $STATE_DIR)"
