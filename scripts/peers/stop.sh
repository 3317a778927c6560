#!/bin/bash
# Stops the peers started by start.sh, each by its PID file (sipp workers included).
# Usage: scripts/peers/stop.sh [nagios|kamailio|sipp|sshd ...]   (default: all)
# The state (keys, passwords, peers.json, the database) stays, so start.sh brings back the same peers.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
for f in nagios kamailio sipp sshd; do . "$PEERS_LIB/$f.sh"; done
check_state_dir
peers=("$@"); [ ${#peers[@]} -gt 0 ] || peers=(sipp kamailio nagios sshd)
for p in "${peers[@]}"; do
  case "$p" in
    nagios|kamailio|sipp|sshd) "stop_$p" ;;
    *) die "unknown peer $p (nagios, kamailio, sipp, sshd)" ;;
  esac
done
