#!/bin/bash
# A SIPp UAS "worker SIP server" answering calls on IP:PORT (record-route aware scenario).
#   scripts/peers/sipp-worker.sh start IP [PORT]   prints the PID; reuses a running one
#   scripts/peers/sipp-worker.sh stop IP [PORT]
#   scripts/peers/sipp-worker.sh calls IP [PORT]   cumulative incoming calls (its stats CSV)
# State (PID, stats CSV, error log) in $INTERCLOUD_PEERS_DIR/sipp/uas-IP-PORT.*
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
check_state_dir
cmd=${1:-}; ip=${2:-}; port=${3:-5070}
[[ $ip =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "usage: sipp-worker.sh start|stop|calls 127.x.y.z [port]"
[[ $port =~ ^[0-9]{1,5}$ ]] || die "port must be a number"
d=$STATE_DIR/sipp; base=$d/uas-$ip-$port; mkdir -p "$d"
case "$cmd" in
  start)
    if alive "$base.pid" uas_rr.xml; then cat "$base.pid"; exit 0; fi
    # -aa answers OPTIONS/INFO too; -bg detaches and prints "PID=[n]"; -fd 1: stats every second.
    out=$(sipp -sf "$PEERS_SRC/sipp/uas_rr.xml" -i "$ip" -p "$port" -aa -bg \
      -trace_stat -stf "$base-stat.csv" -fd 1 -trace_err -error_file "$base-err.log" 2>&1) || true
    pid=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' <<<"$out")
    [ -n "$pid" ] || die "sipp worker $ip:$port did not start: $out"
    echo "$pid" > "$base.pid"
    wait_for 10 "sipp worker" alive "$base.pid" uas_rr.xml || die "sipp worker $ip:$port exited (see $base-err.log)"
    echo "$pid" ;;
  stop) stop_pid "$base.pid" "sipp worker $ip:$port" uas_rr.xml ;;
  calls)
    [ -s "$base-stat.csv" ] || { echo 0; exit 0; }
    awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "IncomingCall(C)") c = i } END { print (c ? $c : 0) }' "$base-stat.csv" ;;
  *) die "usage: sipp-worker.sh start|stop|calls 127.x.y.z [port]" ;;
esac
