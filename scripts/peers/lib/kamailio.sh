# shellcheck shell=bash
# Kamailio as the SIP load balancer, dispatcher module on the machine's MariaDB: two instances,
# one per table kind the broker writes (Kamailio `dispatcher`; OpenSIPS `load_balancer`, read
# through the `lb_dispatcher` view), so both kinds can be tested without restarting anything.
# Sourced by start.sh and stop.sh.

KAM=$STATE_DIR/kamailio
# name:table:sip port:rpc port
KAM_INSTANCES=("ds:dispatcher:$KAM_DS_SIP_PORT:$KAM_DS_RPC_PORT" "lb:lb_dispatcher:$KAM_LB_SIP_PORT:$KAM_LB_RPC_PORT")

kam_rpc() { # port method
  curl -sf -m 5 -H 'content-type: application/json' -d "{\"jsonrpc\":\"2.0\",\"method\":\"$2\",\"id\":1}" "http://127.0.0.1:$1/RPC"
}

kamailio_db_setup() {
  [[ $LB_DATABASE =~ ^[A-Za-z0-9_]{1,64}$ ]] || die "kamailio: PEERS_LB_DATABASE=$LB_DATABASE must be letters, digits and _"
  mkdir -p "$KAM"; chmod 700 "$KAM"
  wait_for 60 "mariadb" mysql_root -e 'SELECT 1' || die "kamailio: MariaDB on $MYSQL_HOST:$MYSQL_PORT does not answer as root (the machine kind starts it)"
  local pw; pw=$(secret_file "$KAM/.db-password")
  render "$PEERS_SRC/kamailio/db-setup.sql" "$KAM/db-setup.sql" DB="$LB_DATABASE" USER="$LB_DB_USER" PASSWORD="$pw" || true   # run either way: it is idempotent
  mysql_root < "$KAM/db-setup.sql"
  log "kamailio: database $LB_DATABASE on $MYSQL_HOST:$MYSQL_PORT (user $LB_DB_USER), tables dispatcher, load_balancer, view lb_dispatcher"
}

start_kamailio() {
  kamailio_db_setup
  local pw; pw=$(cat "$KAM/.db-password")
  local spec name table sip rpc dir cfg
  for spec in "${KAM_INSTANCES[@]}"; do
    IFS=: read -r name table sip rpc <<<"$spec"
    dir=$KAM/$name; cfg=$dir/kamailio.cfg
    mkdir -p "$dir"
    # Kamailio has no configuration reload: a changed kamailio.cfg means a restart.
    local changed=0
    render "$PEERS_SRC/kamailio/kamailio.cfg" "$cfg" SIP_PORT="$sip" RPC_PORT="$rpc" DIR="$dir" TABLE="$table" \
      DB_URL="mysql://$LB_DB_USER:$pw@$MYSQL_HOST:$MYSQL_PORT/$LB_DATABASE" && changed=1
    chmod 600 "$cfg"
    /usr/sbin/kamailio -c -f "$cfg" >"$dir/check.log" 2>&1 || { tail -n 20 "$dir/check.log" >&2; die "kamailio $name: $cfg does not check"; }
    if alive "$dir/kamailio.pid" "$cfg" && kam_rpc "$rpc" core.version >/dev/null && [ "$changed" = 0 ]; then
      log "kamailio $name: reusing pid $(cat "$dir/kamailio.pid") (table $table)"
    else
      [ -s "$dir/kamailio.pid" ] && stop_pid "$dir/kamailio.pid" "kamailio $name (configuration changed or not answering)" "$cfg"
      # -DD: stay in the foreground of our own session (setsid), children forked; -E: log to the file.
      setsid /usr/sbin/kamailio -f "$cfg" -DD -E -P "$dir/kamailio.pid" >>"$dir/kamailio.log" 2>&1 </dev/null &
      wait_for 30 "kamailio $name" kam_rpc "$rpc" core.version || { tail -n 30 "$dir/kamailio.log" >&2; die "kamailio $name: JSON-RPC on 127.0.0.1:$rpc does not answer (log $dir/kamailio.log)"; }
      wait_for 10 "kamailio $name pid" alive "$dir/kamailio.pid" "$cfg" || die "kamailio $name: no pid file $dir/kamailio.pid"
      log "kamailio $name: started pid $(cat "$dir/kamailio.pid")"
    fi
    log "kamailio $name: SIP udp/tcp 127.0.0.1:$sip, JSON-RPC http://127.0.0.1:$rpc/RPC, table $table"
  done
}

stop_kamailio() {
  local spec name table sip rpc
  for spec in "${KAM_INSTANCES[@]}"; do
    IFS=: read -r name table sip rpc <<<"$spec"
    stop_pid "$KAM/$name/kamailio.pid" "kamailio $name" "$KAM/$name/kamailio.cfg"
  done
}
