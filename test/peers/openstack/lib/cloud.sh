#!/bin/bash
# Configure and start ONE OpenStack cloud on 127.0.0.1, idempotently.  Called by up.sh:
#   lib/cloud.sh NAME PORT_OFFSET WITH_QEMU(0|1)
# State, config and logs: ${OPENSTACK_STATE_DIR}/NAME/{etc,log,run,mysql,rabbitmq,glance,nova,neutron,stamps}.
# Every daemon runs detached in its own session with a pid file in run/ (down.sh stops it by that pid).
# A daemon that is alive (pid file + command line naming this cloud's directory) and answering is reused;
# anything missing (e.g. after a machine restart) is started.  One-off steps (database schema, keystone
# bootstrap, catalog) leave a stamp in stamps/ and are skipped once done.
set -euo pipefail
. "$(dirname "$0")/common.sh"

NAME=$1 OFF=$2 WITH_QEMU=$3
BASE=$STATE_DIR/$NAME
C0=$(date +%s)
clog(){ log "$NAME: $*"; }

DB_PORT=$((OFF+3306)) EPMD_PORT=$((OFF+4369)) KS_PORT=$((OFF+5000)) MQ_PORT=$((OFF+5682)) MQ_DIST=$((OFF+5683))
MQ_CTL_MIN=$((OFF+5690)) MQ_CTL_MAX=$((OFF+5699))
NV_PORT=$((OFF+8774)) PL_PORT=$((OFF+8778)) GL_PORT=$((OFF+9292)) NT_PORT=$((OFF+9696))
for p in $DB_PORT $EPMD_PORT $KS_PORT $MQ_PORT $MQ_DIST $MQ_CTL_MAX $NV_PORT $PL_PORT $GL_PORT $NT_PORT; do
  [ "$p" -gt 1024 ] && [ "$p" -lt 65536 ] || die "$NAME: derived port $p (offset $OFF) is outside 1025-65535"
done
DB="mysql+pymysql://openstack:openstack@127.0.0.1:$DB_PORT"
MQ="rabbit://openstack:openstack@127.0.0.1:$MQ_PORT/"
KS="http://127.0.0.1:$KS_PORT"
QEMU_HOST=$NAME-qemu          # nova host name of the libvirt/QEMU compute (AZ "qemu")
FAKE_HOST=host-ovs-filter-active   # the ML2 "test" mechanism driver binds ports only for this host name

mkdir -p "$BASE"/{etc/{keystone,glance,nova,neutron,placement},log,run,stamps,bin,rabbitmq,mysql,tmp} \
         "$BASE"/lock/{glance,nova,neutron} "$BASE"/glance/{images,staging,tasks} \
         "$BASE"/nova/{state,instances,state-qemu,instances-qemu} "$BASE"/neutron
L=$BASE/log R=$BASE/run E=$BASE/etc S=$BASE/stamps
export OSP_OWNER=$BASE/     # tags every daemon of this cloud (see alive/spawn in common.sh)

# ============================ configuration files (rewritten every run; cheap) ============================
cat > "$BASE/my.cnf" <<EOF
[mysqld]
user=root
datadir=$BASE/mysql
# private tmpdir: at start-up mariadbd deletes "#sql*" files in its tmpdir, i.e. in a shared /tmp it would
# delete the temporary tables of the other cloud's (or the machine's own) MariaDB
tmpdir=$BASE/tmp
socket=$R/mysql.sock
pid-file=$R/mysqld.self.pid
port=$DB_PORT
bind-address=127.0.0.1
skip-name-resolve
log-error=$L/mysql.err
max_connections=1000
innodb_buffer_pool_size=128M
innodb_flush_log_at_trx_commit=2
innodb_doublewrite=0
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
skip-log-bin
[client]
socket=$R/mysql.sock
EOF

cat > "$BASE/rabbitmq/env.sh" <<EOF
export HOME=$BASE/rabbitmq
export RABBITMQ_NODENAME=intercloud-$NAME@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$MQ_PORT
export RABBITMQ_DIST_PORT=$MQ_DIST
export RABBITMQ_CTL_DIST_PORT_MIN=$MQ_CTL_MIN
export RABBITMQ_CTL_DIST_PORT_MAX=$MQ_CTL_MAX
export RABBITMQ_MNESIA_BASE=$BASE/rabbitmq/mnesia
export RABBITMQ_LOG_BASE=$L/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$BASE/rabbitmq/enabled_plugins
export RABBITMQ_CONFIG_FILE=$BASE/rabbitmq/rabbitmq
export RABBITMQ_CONF_ENV_FILE=$BASE/rabbitmq/rabbitmq-env.conf
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# a private epmd: the machine's own RabbitMQ keeps the default epmd (4369) to itself
export ERL_EPMD_PORT=$EPMD_PORT
export ERL_EPMD_ADDRESS=127.0.0.1
EOF
echo '[].' > "$BASE/rabbitmq/enabled_plugins"; : > "$BASE/rabbitmq/rabbitmq-env.conf"
printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$MQ_PORT" > "$BASE/rabbitmq/rabbitmq.conf"

auth_block(){ # service user (password = user name) for keystonemiddleware / service-to-service calls
  printf '%s\n' "auth_url = $KS" "auth_type = password" "project_domain_name = Default" "user_domain_name = Default" \
    "project_name = service" "username = $1" "password = $1" "region_name = RegionOne"
}
uwsgi_ini(){ # name port wsgi-file env processes threads
cat > "$E/$1/uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:$2
master = true
processes = $5
threads = $6
enable-threads = true
lazy-apps = true
buffer-size = 65535
die-on-term = true
no-orphans = true
; without this python-requests reuses connections that uwsgi already closed -> ECONNRESET
add-header = Connection: close
wsgi-file = $3
env = $4
logto = $L/$1-uwsgi.log
EOF
}

cp /etc/glance/glance-api-paste.ini /etc/glance/schema-image.json "$E/glance/"
cp /etc/nova/api-paste.ini "$E/nova/"
cp /etc/neutron/api-paste.ini "$E/neutron/"

cat > "$E/keystone/keystone.conf" <<EOF
[DEFAULT]
log_dir = $L
log_file = keystone.log
[database]
connection = $DB/keystone
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $E/keystone/fernet-keys
[fernet_receipts]
key_repository = $E/keystone/fernet-keys
[credential]
key_repository = $E/keystone/credential-keys
EOF
uwsgi_ini keystone "$KS_PORT" /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_FILES=$E/keystone/keystone.conf" 2 4

cat > "$E/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $GL_PORT
workers = 2
log_dir = $L
log_file = glance-api.log
enabled_backends = fs:file
[database]
connection = $DB/glance
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $BASE/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $BASE/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $BASE/glance/tasks
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_block glance)
[paste_deploy]
flavor = keystone
config_file = $E/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $BASE/lock/glance
EOF

cat > "$E/placement/placement.conf" <<EOF
[DEFAULT]
log_dir = $L
log_file = placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $DB/placement
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_block placement)
EOF
uwsgi_ini placement "$PL_PORT" /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$E/placement" 1 4

cat > "$E/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $NT_PORT
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
api_paste_config = $E/neutron/api-paste.ini
transport_url = $MQ
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 0
dhcp_agent_notification = false
log_dir = $L
log_file = neutron-server.log
state_path = $BASE/neutron
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
[database]
connection = $DB/neutron
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_block neutron)
[nova]
$(auth_block nova)
[oslo_concurrency]
lock_path = $BASE/lock/neutron
[oslo_messaging_notifications]
driver = noop
EOF
# No agents here.  "test" is Neutron's own shipped test mechanism driver
# (neutron.tests.unit.plugins.ml2.drivers.mechanism_test): it binds ports for the host name
# host-ovs-filter-active without any agent.  Its internal assert()s fire on port updates, hence
# neutron-server runs with PYTHONOPTIMIZE=1.
cat > "$E/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,vxlan,local
tenant_network_types = vxlan
mechanism_drivers = test
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:1000
EOF

cat > "$E/nova/nova.conf" <<EOF
[DEFAULT]
host = $FAKE_HOST
my_ip = 127.0.0.1
log_dir = $L
state_path = $BASE/nova/state
instances_path = $BASE/nova/instances
transport_url = $MQ
compute_driver = fake.FakeDriver
# servers without an explicit AZ go to the fake compute (AZ "nova"), never to the QEMU host (AZ "qemu")
default_schedule_zone = nova
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $E/nova/api-paste.ini
[api_database]
connection = $DB/nova_api
[database]
connection = $DB/nova
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 30
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_block nova)
[service_user]
send_service_user_token = true
$(auth_block nova)
[placement]
$(auth_block placement)
[neutron]
$(auth_block neutron)
[glance]
region_name = RegionOne
[oslo_concurrency]
lock_path = $BASE/lock/nova
[vnc]
enabled = false
[spice]
enabled = false
[oslo_messaging_notifications]
driver = noop
EOF
uwsgi_ini nova "$NV_PORT" /usr/bin/nova-api-wsgi "OS_NOVA_CONFIG_DIR=$E/nova" 2 1

# the libvirt/QEMU compute (software emulation, TCG): its createImage uploads a real qcow2 to Glance
cat > "$E/nova/nova-qemu.conf" <<EOF
[DEFAULT]
host = $QEMU_HOST
compute_driver = libvirt.LibvirtDriver
instances_path = $BASE/nova/instances-qemu
state_path = $BASE/nova/state-qemu
# libvirt domains are machine-wide: the prefix tells which cloud a domain belongs to (down.sh uses it)
instance_name_template = $NAME-%08x
cpu_allocation_ratio = 32.0
[libvirt]
virt_type = qemu
cpu_mode = none
snapshot_image_format = qcow2
EOF

# The nova-compute Debian package would drag in its own libvirt setup; python3-nova is all we need.
cat > "$BASE/bin/nova-compute" <<'EOF'
#!/usr/bin/python3
import sys
from nova.cmd.compute import main
sys.argv[0] = 'nova-compute'
sys.exit(main())
EOF
chmod +x "$BASE/bin/nova-compute"

cat > "$BASE/adminrc" <<EOF
# source me: admin credentials for cloud $NAME (openstack CLI)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export OS_AUTH_URL=$KS/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=admin
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_INTERFACE=public
EOF
cat > "$BASE/ports.env" <<EOF
DB_PORT=$DB_PORT EPMD_PORT=$EPMD_PORT KS_PORT=$KS_PORT MQ_PORT=$MQ_PORT MQ_DIST=$MQ_DIST
NV_PORT=$NV_PORT PL_PORT=$PL_PORT GL_PORT=$GL_PORT NT_PORT=$NT_PORT WITH_QEMU=$WITH_QEMU QEMU_HOST=$QEMU_HOST
EOF

# ============================ helpers ============================
STARTED=()   # "name|pidfile|url|logfile" of daemons started by this run, to wait for
# ensure_http NAME PORT URL LOGFILE CMD...: reuse if ours and answering, else start
ensure_http(){
  local name=$1 port=$2 url=$3 lf=$4; shift 4
  local pf=$R/$name.pid
  if alive "$pf" "$BASE/"; then
    if http_up "$url"; then clog "$name: reusing pid $(cat "$pf") on :$port"; return 0; fi
    clog "$name: pid $(cat "$pf") alive but $url not answering yet; waiting for it"
    STARTED+=("$name|$pf|$url|$lf"); return 0
  fi
  require_free_port "$port" "$NAME/$name"
  spawn "$pf" "$lf" "$@"
  clog "$name: started pid $(cat "$pf") on :$port (log $lf)"
  STARTED+=("$name|$pf|$url|$lf")
}
# ensure_daemon NAME LOGFILE CMD...: reuse if alive, else start
ensure_daemon(){
  local name=$1 lf=$2; shift 2
  local pf=$R/$name.pid
  if alive "$pf" "$BASE/"; then clog "$name: reusing pid $(cat "$pf")"; return 0; fi
  spawn "$pf" "$lf" "$@"
  clog "$name: started pid $(cat "$pf") (log $lf)"
}
# wait_started TIMEOUT: wait for every entry of STARTED; fail fast (with the log) if a daemon dies
wait_started(){ # TIMEOUT [ONLY_NAME]
  local t=$1 only=${2:-} e name pf url lf code rest=()
  for e in "${STARTED[@]}"; do
    IFS='|' read -r name pf url lf <<<"$e"
    if [ -n "$only" ] && [ "$name" != "$only" ]; then rest+=("$e"); continue; fi
    for i in $(seq 1 "$t"); do
      code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" 2>/dev/null || true)
      [ -n "$code" ] && [ "$code" != 000 ] && break
      if ! alive "$pf"; then
        echo "$(ts) ERROR: $NAME/$name exited during start-up; last lines of $lf:" >&2; tail -n 40 "$lf" >&2 || true; exit 1
      fi
      if [ "$i" = "$t" ]; then
        echo "$(ts) ERROR: $NAME/$name did not answer on $url within ${t}s; last lines of $lf:" >&2; tail -n 40 "$lf" >&2 || true; exit 1
      fi
      sleep 1
    done
    clog "$name answering on $url"
  done
  STARTED=("${rest[@]}")
}
SQL(){ mariadb --defaults-file="$BASE/my.cnf" -uroot -N "$@"; }

# ============================ MariaDB + RabbitMQ (private instances) ============================
if alive "$R/mysqld.pid" "$BASE/" && SQL -e 'select 1' >/dev/null 2>&1; then
  clog "mariadb: reusing pid $(cat "$R/mysqld.pid") on :$DB_PORT"
  DB_NEW=0
else
  require_free_port "$DB_PORT" "$NAME/mariadb"
  if [ ! -f "$S/mysql-installed" ]; then
    clog "mariadb: initialising data directory"
    rm -rf "$BASE/mysql"; mkdir -p "$BASE/mysql"
    mariadb-install-db --defaults-file="$BASE/my.cnf" --user=root --auth-root-authentication-method=normal \
      --skip-test-db > "$L/mysql-install.log" 2>&1 \
      || { tail -5 "$L/mysql.err" >&2 || true; die "$NAME: mariadb-install-db failed (logs $L/mysql-install.log, $L/mysql.err)"; }
    date -u +%FT%TZ > "$S/mysql-installed"
  fi
  spawn "$R/mysqld.pid" "$L/mysqld.out" mariadbd --defaults-file="$BASE/my.cnf"
  clog "mariadb: started pid $(cat "$R/mysqld.pid") on :$DB_PORT"
  DB_NEW=1
fi

MQCTL(){ ( . "$BASE/rabbitmq/env.sh"; /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" "$@" ); }
if alive "$R/rabbitmq.pid" "$BASE/" && MQCTL -q status >/dev/null 2>&1; then
  clog "rabbitmq: reusing pid $(cat "$R/rabbitmq.pid") on :$MQ_PORT"
  MQ_NEW=0
else
  if ! alive "$R/epmd.pid" "$BASE/"; then
    require_free_port "$EPMD_PORT" "$NAME/epmd"
    spawn "$R/epmd.pid" "$L/epmd.out" epmd -port "$EPMD_PORT" -address 127.0.0.1
    sleep 0.5
  fi
  require_free_port "$MQ_PORT" "$NAME/rabbitmq"
  require_free_port "$MQ_DIST" "$NAME/rabbitmq (erlang distribution)"
  ( . "$BASE/rabbitmq/env.sh"; spawn "$R/rabbitmq.pid" "$L/rabbitmq.out" /usr/lib/rabbitmq/bin/rabbitmq-server )
  clog "rabbitmq: started pid $(cat "$R/rabbitmq.pid") on :$MQ_PORT"
  MQ_NEW=1
fi

if [ $DB_NEW = 1 ]; then
  for i in $(seq 1 60); do SQL -e 'select 1' >/dev/null 2>&1 && break
    alive "$R/mysqld.pid" || { tail -30 "$L/mysql.err" >&2; die "$NAME: mariadb exited (log $L/mysql.err)"; }
    [ "$i" = 60 ] && { tail -30 "$L/mysql.err" >&2; die "$NAME: mariadb not answering after 60s (log $L/mysql.err)"; }
    sleep 1; done
  clog "mariadb answering"
fi
SQL <<'EOF'
CREATE DATABASE IF NOT EXISTS keystone; CREATE DATABASE IF NOT EXISTS glance; CREATE DATABASE IF NOT EXISTS placement;
CREATE DATABASE IF NOT EXISTS nova_api; CREATE DATABASE IF NOT EXISTS nova; CREATE DATABASE IF NOT EXISTS nova_cell0;
CREATE DATABASE IF NOT EXISTS neutron;
CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY 'openstack';
CREATE USER IF NOT EXISTS 'openstack'@'localhost' IDENTIFIED BY 'openstack';
GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'localhost';
EOF

# ============================ database schemas (once; in parallel) ============================
NM="nova-manage --config-file $E/nova/nova.conf"
KM="keystone-manage --config-file $E/keystone/keystone.conf"
sync_keystone(){
  $KM db_sync
  $KM fernet_setup --keystone-user root --keystone-group root
  $KM credential_setup --keystone-user root --keystone-group root
  $KM bootstrap --bootstrap-password admin --bootstrap-username admin --bootstrap-project-name admin \
    --bootstrap-role-name admin --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "$KS/v3/" --bootstrap-public-url "$KS/v3/" --bootstrap-internal-url "$KS/v3/"
}
sync_glance(){ glance-manage --config-file "$E/glance/glance-api.conf" db_sync; }
sync_placement(){ placement-manage --config-file "$E/placement/placement.conf" db sync; }
sync_neutron(){ neutron-db-manage --config-file "$E/neutron/neutron.conf" --config-file "$E/neutron/ml2_conf.ini" upgrade heads; }
sync_nova(){
  $NM api_db sync
  $NM cell_v2 list_cells | grep -q ' cell0 ' || $NM cell_v2 map_cell0 --database_connection "$DB/nova_cell0"
  $NM cell_v2 list_cells | grep -q ' cell1 ' || $NM cell_v2 create_cell --name=cell1
  $NM db sync
}
# A fresh Nova database restarts instance numbering: libvirt domains of an earlier incarnation of this
# cloud (same name prefix) would clash with the new ones ("domain already exists"), so remove them.
if [ "$WITH_QEMU" = 1 ] && [ ! -f "$S/dbsync-nova" ] && virsh -c qemu:///system version >/dev/null 2>&1; then
  for d in $(virsh -c qemu:///system list --all --name | grep "^$NAME-" || true); do
    virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    virsh -c qemu:///system undefine "$d" >/dev/null 2>&1 && clog "removed stale libvirt domain $d" || true
  done
fi
SYNC_PIDS=()
for s in keystone glance placement neutron nova; do
  [ -f "$S/dbsync-$s" ] && continue
  ( set -e; "sync_$s" > "$L/dbsync-$s.log" 2>&1 ) & SYNC_PIDS+=("$s:$!")
done
if [ ${#SYNC_PIDS[@]} -gt 0 ]; then
  clog "database schemas: syncing ${SYNC_PIDS[*]%%:*} (in parallel)"
  for e in "${SYNC_PIDS[@]}"; do
    s=${e%%:*}
    if wait "${e#*:}"; then date -u +%FT%TZ > "$S/dbsync-$s"
    else tail -n 30 "$L/dbsync-$s.log" >&2; die "$NAME: database schema sync for $s failed (log $L/dbsync-$s.log)"; fi
  done
  clog "database schemas done"
fi

if [ $MQ_NEW = 1 ] || ! MQCTL -q list_users 2>/dev/null | grep -q '^openstack'; then
  for i in $(seq 1 120); do MQCTL -q await_startup --timeout 5 >/dev/null 2>&1 && break
    alive "$R/rabbitmq.pid" || { tail -30 "$L/rabbitmq.out" >&2; die "$NAME: rabbitmq exited (logs $L/rabbitmq.out, $L/rabbitmq/)"; }
    [ "$i" = 120 ] && { tail -30 "$L/rabbitmq.out" >&2; die "$NAME: rabbitmq not started after 120s (logs $L/rabbitmq.out, $L/rabbitmq/)"; }
    sleep 1; done
  MQCTL -q list_users 2>/dev/null | grep -q '^openstack' || MQCTL -q add_user openstack openstack >/dev/null
  MQCTL -q set_permissions -p / openstack '.*' '.*' '.*' >/dev/null
  clog "rabbitmq ready"
fi

# ============================ API services and workers ============================
# Order matters: nova-conductor/-scheduler die at start-up if their service user does not exist yet
# (catalog step), and a compute that cannot reach Placement only retries a minute later.
ensure_http keystone "$KS_PORT" "$KS/v3" "$L/keystone-uwsgi.log" uwsgi --ini "$E/keystone/uwsgi.ini"
ensure_http glance-api "$GL_PORT" "http://127.0.0.1:$GL_PORT/" "$L/glance-api.log" \
  glance-api --config-file "$E/glance/glance-api.conf"
ensure_http placement "$PL_PORT" "http://127.0.0.1:$PL_PORT/" "$L/placement-uwsgi.log" uwsgi --ini "$E/placement/uwsgi.ini"
ensure_http neutron-server "$NT_PORT" "http://127.0.0.1:$NT_PORT/" "$L/neutron-server.log" \
  env PYTHONOPTIMIZE=1 neutron-server --config-file "$E/neutron/neutron.conf" --config-file "$E/neutron/ml2_conf.ini"
ensure_http nova-api "$NV_PORT" "http://127.0.0.1:$NV_PORT/" "$L/nova-uwsgi.log" uwsgi --ini "$E/nova/uwsgi.ini"
# service users + catalog (once; needs keystone answering)
if [ ! -f "$S/catalog" ]; then
  wait_started 180 keystone
  clog "keystone: service users + catalog"
  python3 "$OSP_LIB/catalog.py" "$KS_PORT" "$GL_PORT" "$PL_PORT" "$NV_PORT" "$NT_PORT" > "$L/catalog.log" 2>&1 \
    || { tail -20 "$L/catalog.log" >&2; die "$NAME: creating the keystone catalog failed (log $L/catalog.log)"; }
  date -u +%FT%TZ > "$S/catalog"
fi
ensure_daemon nova-conductor "$L/nova-conductor.log" nova-conductor --config-file "$E/nova/nova.conf" --log-file "$L/nova-conductor.log"
ensure_daemon nova-scheduler "$L/nova-scheduler.log" nova-scheduler --config-file "$E/nova/nova.conf" --log-file "$L/nova-scheduler.log"
wait_started 180
ensure_daemon nova-compute "$L/nova-compute.log" "$BASE/bin/nova-compute" --config-file "$E/nova/nova.conf" --log-file "$L/nova-compute.log"
if [ "$WITH_QEMU" = 1 ]; then
  virsh -c qemu:///system version >/dev/null 2>&1 || die "$NAME: libvirtd is not answering (up.sh starts it; log $STATE_DIR/libvirt/libvirtd.out)"
  ensure_daemon nova-compute-qemu "$L/nova-compute-qemu.log" "$BASE/bin/nova-compute" --config-file "$E/nova/nova.conf" \
    --config-file "$E/nova/nova-qemu.conf" --log-file "$L/nova-compute-qemu.log"
fi

# every compute host must be mapped to cell1 before servers can be scheduled to it
HOSTS="'$FAKE_HOST'"; NHOSTS=1
[ "$WITH_QEMU" = 1 ] && { HOSTS="$HOSTS,'$QEMU_HOST'"; NHOSTS=2; }
mapped(){ [ "$(SQL -e "select count(*) from nova_api.host_mappings where host in ($HOSTS)" 2>/dev/null || echo 0)" = "$NHOSTS" ]; }
if ! mapped; then
  clog "nova: waiting for compute hosts ($HOSTS) to register and mapping them to cell1"
  for i in $(seq 1 90); do
    $NM cell_v2 discover_hosts >> "$L/discover-hosts.log" 2>&1 || true
    mapped && break
    for d in nova-compute nova-conductor nova-scheduler $([ "$WITH_QEMU" = 1 ] && echo nova-compute-qemu); do
      alive "$R/$d.pid" || { tail -n 40 "$L/$d.log" >&2 2>/dev/null || tail -n 40 "$L/$d.out" >&2; die "$NAME: $d exited (log $L/$d.log)"; }
    done
    [ "$i" = 90 ] && die "$NAME: compute hosts not registered after 180s (logs $L/nova-compute*.log, $L/nova-conductor.log)"
    sleep 2
  done
fi
for d in nova-compute nova-conductor nova-scheduler $([ "$WITH_QEMU" = 1 ] && echo nova-compute-qemu); do
  alive "$R/$d.pid" || { tail -n 40 "$L/$d.log" >&2 || true; die "$NAME: $d is not running (log $L/$d.log)"; }
done
clog "configure+start done in $(( $(date +%s) - C0 ))s"
echo "$(( $(date +%s) - C0 ))" > "$R/last-up-seconds"
