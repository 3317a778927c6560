# shellcheck shell=bash
# An sshd on loopback with its own host keys, key authentication only, and the accounts and
# client keys the tests use. Sourced by start.sh and stop.sh.

SSHD=$STATE_DIR/ssh
SSHD_CFG=$SSHD/sshd_config
SSHD_PID=$SSHD/sshd.pid

ensure_account() { # name sudo(0|1)
  local name=$1
  id "$name" >/dev/null 2>&1 || useradd -m -s /bin/bash -c "intercloud peers test account" "$name"
  # '*' rather than useradd's '!': without PAM, sshd treats a '!' password as a locked account.
  usermod -p '*' "$name"
}

sshd_setup() {
  mkdir -p "$SSHD" /run/sshd; chmod 700 "$SSHD"; chmod 755 /run/sshd
  [ -f "$SSHD/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C intercloud-peers-host -f "$SSHD/host_ed25519_key"
  [ -f "$SSHD/host_ecdsa_key" ] || ssh-keygen -q -t ecdsa -b 256 -N '' -C intercloud-peers-host -f "$SSHD/host_ecdsa_key"
  # Client keys in the forms a tenant may upload: OpenSSH ed25519, PEM RSA, and an encrypted one.
  [ -f "$SSHD/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C intercloud-peers-client -f "$SSHD/client_ed25519"
  [ -f "$SSHD/client_rsa.pem" ] || ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C intercloud-peers-client-rsa -f "$SSHD/client_rsa.pem"
  local pass; pass=$(secret_file "$SSHD/.client_encrypted.passphrase")
  [ -f "$SSHD/client_encrypted" ] || ssh-keygen -q -t ed25519 -N "$pass" -C intercloud-peers-client-encrypted -f "$SSHD/client_encrypted"
  # A key nobody authorised: authentication with it must fail.
  [ -f "$SSHD/client_unauthorized" ] || ssh-keygen -q -t ed25519 -N '' -C intercloud-peers-unauthorized -f "$SSHD/client_unauthorized"
  cat "$SSHD/client_ed25519.pub" "$SSHD/client_rsa.pem.pub" "$SSHD/client_encrypted.pub" > "$SSHD/authorized_keys.tmp"
  chmod 644 "$SSHD/authorized_keys.tmp"; mv -f "$SSHD/authorized_keys.tmp" "$SSHD/authorized_keys"
  chmod 711 "$SSHD"   # the accounts read authorized_keys (sshd reads it as the user)
  ensure_account "$SUDO_USER_NAME"
  ensure_account "$PLAIN_USER_NAME"
  local sudoers=/etc/sudoers.d/intercloud-peers
  printf '# intercloud scripts/peers: the test account with passwordless sudo (sudo -n)\n%s ALL=(ALL) NOPASSWD: ALL\n' "$SUDO_USER_NAME" > "$sudoers.tmp"
  chmod 440 "$sudoers.tmp"
  visudo -cqf "$sudoers.tmp" || die "sshd: the sudoers line does not check"
  mv -f "$sudoers.tmp" "$sudoers"
  local users="root@127.0.0.0/8 $SUDO_USER_NAME@127.0.0.0/8 $PLAIN_USER_NAME@127.0.0.0/8"
  SSHD_CHANGED=0
  render "$PEERS_SRC/sshd/sshd_config" "$SSHD_CFG" PORT="$SSHD_PORT" DIR="$SSHD" USERS="$users" && SSHD_CHANGED=1
  /usr/sbin/sshd -t -f "$SSHD_CFG" || die "sshd: $SSHD_CFG does not check"
}

sshd_answers() { timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSHD_PORT && head -c 4 <&3" | grep -q SSH-; }

start_sshd() {
  sshd_setup
  if alive "$SSHD_PID" "$SSHD_CFG"; then
    local pid; pid=$(cat "$SSHD_PID")
    if [ "$SSHD_CHANGED" = 1 ]; then
      # HUP re-executes sshd with the (checked) sshd_config; it rewrites its PID file meanwhile.
      kill -HUP "$pid"
      wait_for 20 "sshd pid" alive "$SSHD_PID" "$SSHD_CFG" || die "sshd: gone after reload (log $SSHD/sshd.log)"
      log "sshd: reusing pid $pid (configuration changed: reloaded)"
    else
      log "sshd: reusing pid $pid"
    fi
  else
    /usr/sbin/sshd -f "$SSHD_CFG" -E "$SSHD/sshd.log"
    wait_for 20 "sshd pid" alive "$SSHD_PID" "$SSHD_CFG" || die "sshd: did not start (log $SSHD/sshd.log)"
    log "sshd: started pid $(cat "$SSHD_PID")"
  fi
  wait_for 20 "sshd banner" sshd_answers || die "sshd: no banner on 127.0.0.1:$SSHD_PORT (log $SSHD/sshd.log)"
  log "sshd: 0.0.0.0:$SSHD_PORT (any 127.x.y.z), users root, $SUDO_USER_NAME (sudo), $PLAIN_USER_NAME; host key $(ssh-keygen -lf "$SSHD/host_ed25519_key.pub" | cut -d' ' -f2)"
}

stop_sshd() { stop_pid "$SSHD_PID" sshd "$SSHD_CFG"; }
