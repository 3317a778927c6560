# shellcheck shell=bash
# SIPp is no daemon: start.sh checks the binary and the project's record-route scenarios; workers
# (UAS "SIP servers") are started per use with scripts/peers/sipp-worker.sh or by the tests.

SIPP_DIR=$STATE_DIR/sipp

SIPP_BIN=$SIPP_DIR/bin

# The worker script and scenarios are installed into the state dir, as software on a VM would
# be: a recipe run over SSH (CONFIGURE in the end-to-end test) calls $SIPP_BIN/sipp-worker with
# no environment and whichever checkout started the peers may be gone by then.
start_sipp() {
  mkdir -p "$SIPP_DIR" "$SIPP_BIN/lib" "$SIPP_BIN/sipp"
  command -v sipp >/dev/null || die "sipp: not installed (scripts/peers/install.sh)"
  local s
  for s in uas_rr.xml uac_rr.xml; do
    [ -f "$PEERS_SRC/sipp/$s" ] || die "sipp: $PEERS_SRC/sipp/$s is missing"
    install -m 644 "$PEERS_SRC/sipp/$s" "$SIPP_BIN/sipp/$s"
  done
  install -m 755 "$PEERS_SRC/sipp-worker.sh" "$SIPP_BIN/sipp-worker.sh"
  install -m 644 "$PEERS_LIB/common.sh" "$SIPP_BIN/lib/common.sh"
  printf '#!/bin/bash\n# installed by scripts/peers/start.sh: %s\nINTERCLOUD_PEERS_DIR=${INTERCLOUD_PEERS_DIR:-%s} exec %s "$@"\n' \
    "SIPp UAS workers (start|stop|calls IP [PORT])" "$STATE_DIR" "$SIPP_BIN/sipp-worker.sh" > "$SIPP_BIN/sipp-worker.tmp"
  chmod 755 "$SIPP_BIN/sipp-worker.tmp"; mv -f "$SIPP_BIN/sipp-worker.tmp" "$SIPP_BIN/sipp-worker"
  log "sipp: $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1 | sed 's/\.$//'), scenarios and workers in $SIPP_BIN ($SIPP_BIN/sipp-worker start|stop|calls IP [PORT])"
}

stop_sipp() {
  local pf
  for pf in "$SIPP_DIR"/uas-*.pid; do
    [ -e "$pf" ] || continue
    stop_pid "$pf" "sipp worker $(basename "$pf" .pid)" uas_rr.xml
  done
}
