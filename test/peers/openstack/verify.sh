#!/bin/bash
# Smoke-test the two clouds of up.sh end to end, with the real `openstack` CLI (authenticated by the
# application credentials of clouds.json) and curl (raw HTTP, as the broker does it):
#   1. both clouds: password token (201 + X-Subject-Token), catalog, application-credential token
#   2. os-a: boot a server in AZ "qemu" with no network -> ACTIVE on the libvirt/QEMU host; the guest's
#      serial console shows the test image's boot message
#   3. os-a: createImage -> Glance image active with real bytes (the snapshot's disk holds the image's data)
#   4. stream the snapshot from os-a's Glance into os-b's Glance -> checksums (md5 and sha512) equal
#   5. os-b: boot from the copy on the private network -> ACTIVE
#   6. os-b: floating IP on that server -> shows in the server's addresses
# Everything it creates carries the name prefix verify-<pid>- and is deleted at exit (pass or fail).
#
# Usage: test/peers/openstack/verify.sh        Env: OPENSTACK_STATE_DIR (default /var/lib/intercloud-openstack)
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

CJ=$STATE_DIR/clouds.json
[ -s "$CJ" ] || die "$CJ not found: run test/peers/openstack/up.sh first"
TAG=verify-$$
TMP=$(mktemp -d "$STATE_DIR/verify.XXXXXX")
stage(){ log "== $*"; }
# cj CLOUD FIELD: a field of clouds.json
cj(){ python3 -c 'import json,sys
c={c["name"]:c for c in json.load(open(sys.argv[1]))["clouds"]}[sys.argv[2]]
v=c
for k in sys.argv[3].split("."): v=v[k]
print("" if v is None else v)' "$CJ" "$1" "$2"; }
# jq-lite: J EXPR < json   (d = the parsed document)
J(){ python3 -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print("" if r is None else r)' "$1"; }

os_a_KS=$(cj os-a authUrl) os_a_GL=$(cj os-a endpoints.image) os_a_LOG=$(cj os-a logDir)
os_b_KS=$(cj os-b authUrl) os_b_GL=$(cj os-b endpoints.image) os_b_LOG=$(cj os-b logDir)
# shellcheck disable=SC2034  # read indirectly by oscli
os_a_ACID=$(cj os-a applicationCredentialId) os_a_ACSECRET=$(cj os-a applicationCredentialSecret)
# shellcheck disable=SC2034
os_b_ACID=$(cj os-b applicationCredentialId) os_b_ACSECRET=$(cj os-b applicationCredentialSecret)
# the real CLI, authenticated with the cloud's application credential
oscli(){ # CLOUD args...
  local v=${1//-/_}; shift
  local ks=${v}_KS id=${v}_ACID sec=${v}_ACSECRET
  env -u OS_USERNAME -u OS_PASSWORD -u OS_PROJECT_NAME -u OS_CLOUD OS_AUTH_TYPE=v3applicationcredential \
    OS_AUTH_URL="${!ks}" OS_APPLICATION_CREDENTIAL_ID="${!id}" OS_APPLICATION_CREDENTIAL_SECRET="${!sec}" \
    OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne OS_INTERFACE=public OS_COMPUTE_API_VERSION=2.79 \
    openstack "$@"
}
# password token via raw HTTP (201 + X-Subject-Token)
token(){ # KEYSTONE_URL -> prints token; catalog body to $TMP/catalog-<port>.json
  local ks=$1 hdr body code
  hdr=$TMP/tok.h; body=$TMP/catalog-${ks##*:}; body=${body%/v3}.json
  code=$(curl -s -m 30 -D "$hdr" -o "$body" -w '%{http_code}' -X POST "$ks/auth/tokens" -H 'Content-Type: application/json' \
    -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"admin"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}')
  [ "$code" = 201 ] || die "keystone $ks: password token answered HTTP $code"
  awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' "$hdr" | tr -d '\r'
}

SERVERS=() IMAGES=() FIPS=()   # "cloud:id" to delete at exit
cleanup(){
  local rc=$? e c id
  trap - EXIT
  stage "cleanup"
  for e in "${FIPS[@]}"; do c=${e%%:*}; id=${e#*:}; oscli "$c" floating ip delete "$id" >/dev/null 2>&1 || echo "  could not delete floating ip $id in $c"; done
  for e in "${SERVERS[@]}"; do c=${e%%:*}; id=${e#*:}; oscli "$c" server delete "$id" >/dev/null 2>&1 || echo "  could not delete server $id in $c"; done
  for e in "${SERVERS[@]}"; do c=${e%%:*}; id=${e#*:}
    for _ in $(seq 1 60); do oscli "$c" server show "$id" -f value -c id >/dev/null 2>&1 || break; sleep 2; done
  done
  for e in "${IMAGES[@]}"; do c=${e%%:*}; id=${e#*:}; oscli "$c" image delete "$id" >/dev/null 2>&1 || echo "  could not delete image $id in $c"; done
  rm -rf "$TMP"
  if [ $rc = 0 ]; then log "verify.sh: PASS (${SECONDS}s)"; else log "verify.sh: FAIL (exit $rc)"; fi
  exit $rc
}
trap cleanup EXIT
# wait_server CLOUD ID TIMEOUT LOGHINT -> ACTIVE or die (with the fault)
wait_server(){
  local c=$1 id=$2 t=$3 hint=$4 st=""
  for _ in $(seq 1 "$t"); do
    st=$(oscli "$c" server show "$id" -f value -c status 2>/dev/null || true)
    [ "$st" = ACTIVE ] && return 0
    [ "$st" = ERROR ] && die "$c: server $id went to ERROR: $(oscli "$c" server show "$id" -f value -c fault 2>/dev/null | cut -c1-400) (log $hint)"
    sleep 1
  done
  die "$c: server $id not ACTIVE within ${t}s (status '$st'; log $hint)"
}
wait_image(){ # CLOUD TOKEN GLANCE ID TIMEOUT -> active or die
  local c=$1 tok=$2 gl=$3 id=$4 t=$5 st=""
  for _ in $(seq 1 "$t"); do
    st=$(curl -s -m 10 -H "X-Auth-Token: $tok" "$gl/v2/images/$id" | J "d.get('status')" 2>/dev/null || true)
    [ "$st" = active ] && return 0
    [ "$st" = killed ] || [ "$st" = deleted ] && die "$c: image $id is $st"
    sleep 1
  done
  die "$c: image $id not active within ${t}s (status '$st')"
}

# ---------------------------------------------------------------------------------------------------
stage "1. tokens and catalogs"
TA=$(token "$os_a_KS"); TB=$(token "$os_b_KS")
for c in os-a os-b; do
  v=${c//-/_}; ks=${v}_KS; port=${!ks##*:}; port=${port%/v3}
  types=$(J "sorted(e['type'] for e in d['token']['catalog'])" < "$TMP/catalog-$port.json")
  for t in identity compute image network placement; do
    grep -q "'$t'" <<<"$types" || die "$c: catalog lacks $t: $types"
  done
  tok=$(oscli "$c" token issue -f value -c id) || die "$c: application credential token failed"
  echo "  $c: password token ok, catalog $types, application-credential token ok (${#tok} chars)"
done

stage "2. os-a: boot in AZ qemu (libvirt/QEMU), networks none"
IMG_A=$(cj os-a imageId); FLAVOR=$(cj os-a flavorId)
QAZ=$(cj os-a qemuAvailabilityZone); [ -n "$QAZ" ] || die "os-a has no qemuAvailabilityZone in $CJ"
S0=$SECONDS
SRC=$(oscli os-a server create --image "$IMG_A" --flavor "$FLAVOR" --availability-zone "$QAZ" --nic none "$TAG-src" -f value -c id)
SERVERS+=("os-a:$SRC")
wait_server os-a "$SRC" 300 "$os_a_LOG/nova-compute-qemu.log"
HOST=$(oscli os-a server show "$SRC" -f value -c OS-EXT-SRV-ATTR:host)
echo "  server $SRC ACTIVE on host $HOST after $((SECONDS - S0))s"
[ "$HOST" = os-a-qemu ] || die "os-a: server landed on $HOST, not on the QEMU host"
for i in $(seq 1 60); do
  oscli os-a console log show "$SRC" 2>/dev/null | grep -q 'intercloud test image: booted' && { echo "  guest console: 'intercloud test image: booted'"; break; }
  [ "$i" = 60 ] && die "os-a: the guest's console never showed the boot message (log $os_a_LOG/nova-compute-qemu.log)"
  sleep 1
done

stage "3. os-a: createImage -> real bytes"
S0=$SECONDS
SNAP=$(oscli os-a server image create --name "$TAG-snap" "$SRC" -f value -c id)
IMAGES+=("os-a:$SNAP")
wait_image os-a "$TA" "$os_a_GL" "$SNAP" 300
curl -s -m 10 -H "X-Auth-Token: $TA" "$os_a_GL/v2/images/$SNAP" > "$TMP/snap.json"
read -r SNAP_SIZE SNAP_MD5 SNAP_FMT SNAP_CF SNAP_SHA < <(J "' '.join(str(d[k]) for k in ('size','checksum','disk_format','container_format','os_hash_value'))" < "$TMP/snap.json")
[ "${SNAP_SIZE:-0}" -gt 0 ] || die "os-a: snapshot $SNAP has no data (size $SNAP_SIZE)"
code=$(curl -s -m 120 -H "X-Auth-Token: $TA" -o "$TMP/snap.img" -w '%{http_code}' "$os_a_GL/v2/images/$SNAP/file")
[ "$code" = 200 ] || die "os-a: GET image file answered $code"
[ "$(md5sum < "$TMP/snap.img" | cut -d' ' -f1)" = "$SNAP_MD5" ] || die "os-a: downloaded snapshot does not match its checksum"
# the snapshot's disk must hold what the image held: the boot sector and the 4 MiB data block at 1 MiB
qemu-img convert -f "$SNAP_FMT" -O raw "$TMP/snap.img" "$TMP/snap.raw"
qemu-img convert -f qcow2 -O raw "$STATE_DIR/images/intercloud-tiny.qcow2" "$TMP/orig.raw"
cmp -n $((5 << 20)) "$TMP/snap.raw" "$TMP/orig.raw" >/dev/null || die "os-a: snapshot disk content differs from the image it was booted from"
echo "  snapshot $SNAP active after $((SECONDS - S0))s: $SNAP_FMT, $SNAP_SIZE bytes, md5 $SNAP_MD5; disk content == source image"

stage "4. stream os-a Glance -> os-b Glance"
S0=$SECONDS
DST=$(curl -s -m 30 -H "X-Auth-Token: $TB" -X POST "$os_b_GL/v2/images" -H 'Content-Type: application/json' \
  -d "{\"name\":\"$TAG-clone\",\"disk_format\":\"$SNAP_FMT\",\"container_format\":\"$SNAP_CF\"}" | J "d['id']")
[ -n "$DST" ] || die "os-b: could not create the image record"
IMAGES+=("os-b:$DST")
set +o pipefail
code=$(curl -s -m 300 -H "X-Auth-Token: $TA" "$os_a_GL/v2/images/$SNAP/file" \
  | curl -s -m 300 -H "X-Auth-Token: $TB" -X PUT "$os_b_GL/v2/images/$DST/file" -H 'Content-Type: application/octet-stream' \
      -T - -o /dev/null -w '%{http_code}')
set -o pipefail
[ "$code" = 204 ] || die "os-b: PUT image file answered $code"
wait_image os-b "$TB" "$os_b_GL" "$DST" 60
read -r DST_SIZE DST_MD5 DST_SHA < <(curl -s -m 10 -H "X-Auth-Token: $TB" "$os_b_GL/v2/images/$DST" | J "' '.join(str(d[k]) for k in ('size','checksum','os_hash_value'))")
[ "$DST_MD5" = "$SNAP_MD5" ] && [ "$DST_SHA" = "$SNAP_SHA" ] && [ "$DST_SIZE" = "$SNAP_SIZE" ] \
  || die "checksums differ: os-a $SNAP_SIZE/$SNAP_MD5 os-b $DST_SIZE/$DST_MD5"
echo "  $DST_SIZE bytes streamed in $((SECONDS - S0))s; md5 $DST_MD5 and sha512 ${DST_SHA:0:16}... equal on both sides"

stage "5. os-b: boot the copy on the private network"
S0=$SECONDS
NET_B=$(cj os-b networkId)
DSTSRV=$(oscli os-b server create --image "$DST" --flavor "$(cj os-b flavorId)" --nic "net-id=$NET_B" "$TAG-dst" -f value -c id)
SERVERS+=("os-b:$DSTSRV")
wait_server os-b "$DSTSRV" 180 "$os_b_LOG/nova-compute.log"
echo "  server $DSTSRV ACTIVE after $((SECONDS - S0))s: $(oscli os-b server show "$DSTSRV" -f value -c addresses)"

stage "6. os-b: floating IP"
FIP=$(oscli os-b floating ip create "$(cj os-b externalNetworkId)" -f value -c id)
FIPS+=("os-b:$FIP")
FIP_ADDR=$(oscli os-b floating ip show "$FIP" -f value -c floating_ip_address)
oscli os-b server add floating ip "$DSTSRV" "$FIP_ADDR"
for i in $(seq 1 60); do
  oscli os-b server show "$DSTSRV" -f value -c addresses | grep -qF "$FIP_ADDR" && break
  [ "$i" = 60 ] && die "os-b: floating IP $FIP_ADDR not in the server's addresses after 60s (log $os_b_LOG/neutron-server.log)"
  sleep 1
done
echo "  floating IP $FIP_ADDR attached: $(oscli os-b server show "$DSTSRV" -f value -c addresses)"
