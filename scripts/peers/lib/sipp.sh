# shellcheck shell=bash
# SIPp is no daemon: start.sh checks the binary and the project's record-route scenarios; workers
# (UAS "SIP servers") are started per use with scripts/peers/sipp-worker.sh or by the tests.

SIPP_DIR=$STATE_DIR/sipp

start_sipp() {
  mkdir -p "$SIPP_DIR"
  command -v sipp >/dev/null || die "sipp: not installed (scripts/peers/install.sh)"
  local s
  for s in uas_rr.xml uac_rr.xml; do [ -f "$PEERS_SRC/sipp/$s" ] || die "sipp: $PEERS_SRC/sipp/$s is missing"; done
  log "sipp: $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1), scenarios $PEERS_SRC/sipp/{uas_rr,uac_rr}.xml, workers: scripts/peers/sipp-worker.sh (state $SIPP_DIR)"
}

stop_sipp() {
  local pf
  for pf in "$SIPP_DIR"/uas-*.pid; do
    [ -e "$pf" ] || continue
    stop_pid "$pf" "sipp worker $(basename "$pf" .pid)" uas_rr.xml
  done
}
