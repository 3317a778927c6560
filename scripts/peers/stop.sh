#!/bin/bash
# Stops the peers started by start.sh, each by its PID file (sipp workers included).
# Usage: scripts/peers/stop.sh [nagios|kamailio|sipp|sshd ...]   (default: all)
# peers.json goes (tests then skip, or fail under CI); the state (keys, passwords, the database)
# stays, so start.sh brings back the same peers.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
for f in nagios kamailio sipp sshd; do . "$PEERS_LIB/$f.sh"; done
check_state_dir
peers=("$@"); [ ${#peers[@]} -gt 0 ] || peers=(sipp kamailio nagios sshd)
# peers.json says "the peers are up": tests that find it connect, tests that do not skip.
# start.sh writes it again from the kept state.
rm -f "$STATE_DIR/peers.json"
for p in "${peers[@]}"; do
  case "$p" in
    nagios|kamailio|sipp|sshd) "stop_$p" ;;
    *) die "unknown peer $p (nagios, kamailio, sipp, sshd)" ;;
  esac
done
