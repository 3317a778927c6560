# shellcheck shell=bash
# Nagios 4 and the Apache serving its JSON CGIs: a private instance under $STATE_DIR/nagios
# (its own nagios.cfg, cgi.cfg, conf.d, status and command file), so /etc/nagios4 stays as
# Debian ships it. Sourced by start.sh and stop.sh.

NAG=$STATE_DIR/nagios
NAG_CFG=$NAG/etc/nagios.cfg
NAG_PID=$NAG/var/nagios.pid
NAG_CMD=$NAG/var/rw/nagios.cmd
APA=$STATE_DIR/apache
APA_PID=$APA/apache2.pid
STATUS_URL="http://127.0.0.1:$APACHE_PORT/cgi-bin/nagios4/statusjson.cgi"

# nagios.cfg derived from the installed one (so it matches the installed version), with every
# path moved into the state dir and the settings a passive-check test needs (../../PEERS.md).
nagios_write_config() {
  mkdir -p "$NAG/etc" "$NAG/conf.d" "$NAG/var/rw" "$NAG/var/archives" "$NAG/var/spool/checkresults"
  local v=$NAG/var
  sed -e "s|^log_file=.*|log_file=$v/nagios.log|" \
      -e "s|^cfg_dir=/etc/nagios4/conf.d|cfg_dir=$NAG/conf.d|" \
      -e "s|^cfg_file=/etc/nagios4/objects/localhost.cfg|cfg_file=$NAG/etc/intercloud-objects.cfg|" \
      -e "s|^object_cache_file=.*|object_cache_file=$v/objects.cache|" \
      -e "s|^precached_object_file=.*|precached_object_file=$v/objects.precache|" \
      -e "s|^status_file=.*|status_file=$v/status.dat|" \
      -e "s|^command_file=.*|command_file=$NAG_CMD|" \
      -e "s|^lock_file=.*|lock_file=$NAG_PID|" \
      -e "s|^temp_file=.*|temp_file=$v/nagios.tmp|" \
      -e "s|^temp_path=.*|temp_path=$v|" \
      -e "s|^log_archive_path=.*|log_archive_path=$v/archives|" \
      -e "s|^check_result_path=.*|check_result_path=$v/spool/checkresults|" \
      -e "s|^state_retention_file=.*|state_retention_file=$v/retention.dat|" \
      -e "s|^debug_file=.*|debug_file=$v/nagios.debug|" \
      -e 's/^check_for_updates=.*/check_for_updates=0/' \
      -e 's/^enable_notifications=.*/enable_notifications=0/' \
      -e 's/^status_update_interval=.*/status_update_interval=1/' \
      -e 's/^check_result_reaper_frequency=.*/check_result_reaper_frequency=1/' \
      -e 's/^use_syslog=.*/use_syslog=0/' \
      -e 's/^check_external_commands=.*/check_external_commands=1/' \
      -e 's/^accept_passive_service_checks=.*/accept_passive_service_checks=1/' \
      /etc/nagios4/nagios.cfg > "$NAG_CFG.tmp"
  grep -q "^cfg_dir=$NAG/conf.d\$" "$NAG_CFG.tmp" || die "nagios: /etc/nagios4/nagios.cfg has no cfg_dir=/etc/nagios4/conf.d line to move"
  NAG_CHANGED=0
  replace_if_changed "$NAG_CFG.tmp" "$NAG_CFG" && NAG_CHANGED=1
  cp "$PEERS_SRC/nagios/intercloud-objects.cfg" "$NAG/etc/intercloud-objects.cfg.tmp"
  replace_if_changed "$NAG/etc/intercloud-objects.cfg.tmp" "$NAG/etc/intercloud-objects.cfg" && NAG_CHANGED=1
  sed -e "s|^main_config_file=.*|main_config_file=$NAG_CFG|" \
      -e 's/^use_authentication=.*/use_authentication=1/' \
      /etc/nagios4/cgi.cfg > "$NAG/etc/cgi.cfg.tmp"
  replace_if_changed "$NAG/etc/cgi.cfg.tmp" "$NAG/etc/cgi.cfg" || true
  local pw; pw=$(secret_file "$NAG/etc/.web-password")
  htpasswd -vb "$NAG/etc/htpasswd.users" "$NAGIOS_WEB_USER" "$pw" >/dev/null 2>&1 || htpasswd -bcB "$NAG/etc/htpasswd.users" "$NAGIOS_WEB_USER" "$pw" 2>/dev/null
  # The daemon (user nagios) writes var/; Apache's CGIs (www-data) read etc/ and var/.
  chown -R nagios:nagios "$NAG/var"
  chmod 2775 "$NAG/var/rw"; chgrp www-data "$NAG/var/rw"
  chmod 755 "$STATE_DIR" "$NAG" "$NAG/etc" "$NAG/conf.d" "$NAG/var"
  chgrp www-data "$NAG/etc/htpasswd.users"; chmod 640 "$NAG/etc/htpasswd.users"
}

nagios_answers() {
  curl -sf -m 5 -u "$NAGIOS_WEB_USER:$(cat "$NAG/etc/.web-password")" "$STATUS_URL?query=programstatus" | grep -q '"nagios_pid"'
}

start_nagios() {
  nagios_write_config
  mkdir -p "$APA/run"
  local apache_changed=0
  render "$PEERS_SRC/nagios/apache2.conf" "$APA/apache2.conf" BIND=127.0.0.1 PORT="$APACHE_PORT" DIR="$APA" NAGIOS="$NAG" && apache_changed=1
  local out
  out=$(/usr/sbin/nagios4 -v "$NAG_CFG" 2>&1) || { echo "$out" | grep -iE 'error|warning' >&2; die "nagios: $NAG_CFG does not verify"; }
  if alive "$NAG_PID" "$NAG_CFG"; then
    if [ "$NAG_CHANGED" = 1 ]; then
      # Pick up a changed nagios.cfg or templates (verified above, so the HUP cannot kill it).
      kill -HUP "$(cat "$NAG_PID")"
      log "nagios: reusing pid $(cat "$NAG_PID") (configuration changed: reloaded)"
    else
      log "nagios: reusing pid $(cat "$NAG_PID")"
    fi
  else
    rm -f "$NAG_CMD" "$NAG/var/retention.dat"
    /usr/sbin/nagios4 -d "$NAG_CFG"
    wait_for 30 "nagios pid" alive "$NAG_PID" "$NAG_CFG" || die "nagios: no live pid in $NAG_PID after 30 s (log $NAG/var/nagios.log)"
    log "nagios: started pid $(cat "$NAG_PID") ($NAG_CFG)"
  fi
  /usr/sbin/apache2 -t -f "$APA/apache2.conf" 2>&1 | grep -v 'Syntax OK' >&2 || true
  if alive "$APA_PID" "$APA/apache2.conf"; then
    if [ "$apache_changed" = 1 ]; then
      /usr/sbin/apache2 -f "$APA/apache2.conf" -k graceful
      log "apache: reusing pid $(cat "$APA_PID") (configuration changed: graceful restart)"
    else
      log "apache: reusing pid $(cat "$APA_PID")"
    fi
  else
    rm -f "$APA_PID"
    /usr/sbin/apache2 -f "$APA/apache2.conf" -k start
    wait_for 30 "apache pid" alive "$APA_PID" "$APA/apache2.conf" || die "apache: did not start (log $APA/error.log)"
    log "apache: started pid $(cat "$APA_PID") on 127.0.0.1:$APACHE_PORT"
  fi
  wait_for 60 "statusjson" nagios_answers || die "nagios: $STATUS_URL does not answer (logs $APA/error.log, $NAG/var/nagios.log)"
  wait_for 30 "command file" test -p "$NAG_CMD" || die "nagios: no command file $NAG_CMD"
  log "nagios: $STATUS_URL (basic auth $NAGIOS_WEB_USER), command file $NAG_CMD, config dir $NAG/conf.d"
}

stop_nagios() {
  stop_pid "$APA_PID" apache "$APA/apache2.conf"
  stop_pid "$NAG_PID" nagios "$NAG_CFG"
  rm -f "$NAG_CMD"
}
