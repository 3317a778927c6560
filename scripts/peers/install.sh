#!/bin/bash
# Installs the packages of the real peers the SIP service path is tested against (Debian 12, root):
#   Nagios 4 + Apache with the JSON CGIs, Kamailio with the dispatcher module on MySQL/MariaDB,
#   SIPp (sip-tester), OpenSSH server, and the clients the scripts use.
# Idempotent: installs only what is missing (no apt-get update when nothing is). Starts nothing;
# scripts/peers/start.sh does.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || die "install.sh must run as root (apt-get)"

PACKAGES=(
  nagios4 nagios4-cgi apache2 apache2-utils monitoring-plugins-basic
  kamailio kamailio-mysql-modules
  sip-tester
  openssh-server openssh-client sudo
  mariadb-client curl jq ca-certificates procps
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "install: all ${#PACKAGES[@]} packages present"
else
  log "install: apt-get install ${missing[*]}"
  apt-get update -q -o DPkg::Lock::Timeout=900
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=900 "${missing[@]}"
fi

# On a systemd host apt starts Debian's own kamailio on *:5060, where ours listens: keep it off.
if [ -d /run/systemd/system ] && systemctl is-enabled kamailio >/dev/null 2>&1; then
  log "install: disabling the distribution's kamailio service (it would hold *:5060)"
  systemctl disable --now kamailio >/dev/null 2>&1 || true
fi
log "install: done"
