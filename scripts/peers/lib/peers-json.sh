# shellcheck shell=bash
# Writes $STATE_DIR/peers.json: what the tests (test/support/service-peers.ts) and a developer
# need to reach the peers. It holds secrets (test-only keys and passwords): root-readable only.

fingerprint() { ssh-keygen -lf "$1" | cut -d' ' -f2; }
key_type() { cut -d' ' -f1 "$1"; }

write_peers_json() {
  local out=$STATE_DIR/peers.json
  umask 077
  jq -n \
    --arg stateDir "$STATE_DIR" \
    --arg statusUrl "$STATUS_URL" --arg webUser "$NAGIOS_WEB_USER" --rawfile webPassword "$NAG/etc/.web-password" \
    --arg nagCfg "$NAG_CFG" --arg confDir "$NAG/conf.d" --arg nagPid "$NAG_PID" --arg nagCmd "$NAG_CMD" --arg nagLog "$NAG/var/nagios.log" \
    --arg mysqlHost "$MYSQL_HOST" --argjson mysqlPort "$MYSQL_PORT" --arg dbUser "$LB_DB_USER" --rawfile dbPassword "$KAM/.db-password" --arg db "$LB_DATABASE" \
    --argjson dsSip "$KAM_DS_SIP_PORT" --argjson dsRpc "$KAM_DS_RPC_PORT" --argjson lbSip "$KAM_LB_SIP_PORT" --argjson lbRpc "$KAM_LB_RPC_PORT" \
    --arg kam "$KAM" \
    --arg sippBin "$(command -v sipp)" --arg sippDir "$SIPP_DIR" \
    --argjson sshPort "$SSHD_PORT" --arg sshDir "$SSHD" \
    --arg edAlg "$(key_type "$SSHD/host_ed25519_key.pub")" --arg edFp "$(fingerprint "$SSHD/host_ed25519_key.pub")" --rawfile edPub "$SSHD/host_ed25519_key.pub" \
    --arg ecAlg "$(key_type "$SSHD/host_ecdsa_key.pub")" --arg ecFp "$(fingerprint "$SSHD/host_ecdsa_key.pub")" --rawfile ecPub "$SSHD/host_ecdsa_key.pub" \
    --rawfile clientKey "$SSHD/client_ed25519" --rawfile clientPub "$SSHD/client_ed25519.pub" \
    --rawfile rsaKey "$SSHD/client_rsa.pem" \
    --rawfile encKey "$SSHD/client_encrypted" --rawfile encPass "$SSHD/.client_encrypted.passphrase" \
    --rawfile badKey "$SSHD/client_unauthorized" \
    --arg sudoUser "$SUDO_USER_NAME" --arg plainUser "$PLAIN_USER_NAME" \
    '{
      stateDir: $stateDir,
      nagios: {
        statusUrl: $statusUrl, username: $webUser, password: ($webPassword | rtrimstr("\n")),
        mainConfig: $nagCfg, configDir: $confDir, verifyCommand: ["/usr/sbin/nagios4", "-v", $nagCfg],
        pidFile: $nagPid, commandFile: $nagCmd, log: $nagLog,
        hostTemplate: "sip-server", serviceTemplate: "sip-passive", host: "intercloud-peers", passiveService: "sip-load"
      },
      mysql: { host: $mysqlHost, port: $mysqlPort, user: $dbUser, password: ($dbPassword | rtrimstr("\n")), database: $db },
      kamailio: {
        dispatcher: { sipHost: "127.0.0.1", sipPort: $dsSip, rpcUrl: "http://127.0.0.1:\($dsRpc)/RPC", table: "dispatcher",
                      kamailioTable: "dispatcher", reloadMethod: "dispatcher.reload", listMethod: "dispatcher.list",
                      pidFile: "\($kam)/ds/kamailio.pid", log: "\($kam)/ds/kamailio.log" },
        loadBalancer: { sipHost: "127.0.0.1", sipPort: $lbSip, rpcUrl: "http://127.0.0.1:\($lbRpc)/RPC", table: "load_balancer",
                        kamailioTable: "lb_dispatcher", reloadMethod: "dispatcher.reload", listMethod: "dispatcher.list",
                        pidFile: "\($kam)/lb/kamailio.pid", log: "\($kam)/lb/kamailio.log" }
      },
      sipp: { binary: $sippBin, uasScenario: "\($sippDir)/bin/sipp/uas_rr.xml", uacScenario: "\($sippDir)/bin/sipp/uac_rr.xml",
              workerScript: "\($sippDir)/bin/sipp-worker", stateDir: $sippDir },
      ssh: {
        listen: "0.0.0.0", port: $sshPort, pidFile: "\($sshDir)/sshd.pid", log: "\($sshDir)/sshd.log",
        hostKeys: [
          { algorithm: $edAlg, fingerprint: $edFp, publicKey: ($edPub | rtrimstr("\n")) },
          { algorithm: $ecAlg, fingerprint: $ecFp, publicKey: ($ecPub | rtrimstr("\n")) }
        ],
        users: { root: "root", sudo: $sudoUser, plain: $plainUser },
        clientKey: { privateKey: $clientKey, publicKey: ($clientPub | rtrimstr("\n")), file: "\($sshDir)/client_ed25519" },
        rsaPemKey: { privateKey: $rsaKey, file: "\($sshDir)/client_rsa.pem" },
        encryptedKey: { privateKey: $encKey, passphrase: ($encPass | rtrimstr("\n")), file: "\($sshDir)/client_encrypted" },
        unauthorizedKey: { privateKey: $badKey }
      }
    }' > "$out.tmp"
  chmod 600 "$out.tmp"; mv -f "$out.tmp" "$out"
  log "peers.json: $out"
}
