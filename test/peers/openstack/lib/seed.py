"""Seed one running cloud for the test suites (idempotent) and print its clouds.json entry.

Usage: seed.py NAME INDEX STATE_DIR   (ports and the QEMU host name come from STATE_DIR/NAME/ports.env)

Ensures: compute services up; host aggregate "qemu" (AZ "qemu") holding the libvirt/QEMU compute when the cloud
has one; flavors m1.tiny / m1.small; the test image "intercloud-tiny" (a tiny bootable qcow2 built locally);
networks "public" (external, for floating IPs) and "private" joined by router "router1"; an application
credential "intercloud-tests" for admin (its secret is kept in STATE_DIR/NAME/appcred.json, mode 0600).
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

NAME, INDEX, STATE_DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BASE = os.path.join(STATE_DIR, NAME)
LOG = os.path.join(BASE, "log")
ports = {}
for line in open(os.path.join(BASE, "ports.env")):
    for kv in line.split():
        k, v = kv.split("=", 1)
        ports[k] = v
WITH_QEMU = ports["WITH_QEMU"] == "1"
QEMU_HOST = ports["QEMU_HOST"]
FAKE_HOST = "host-ovs-filter-active"
AUTH_URL = f"http://127.0.0.1:{ports['KS_PORT']}/v3"
IMAGE_NAME = "intercloud-tiny"
APPCRED_NAME = "intercloud-tests"
T0 = time.time()


def say(msg):
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} {NAME}: seed: {msg} [{time.time() - T0:.1f}s]",
          file=sys.stderr, flush=True)


def fail(msg):
    say("ERROR: " + msg)
    sys.exit(1)


# ------------------------------------------------------------------------------------------------
# The test image: a 16 MiB raw disk whose first sector is a real x86 boot sector (it writes a line to
# the serial port, COM1, then halts the CPU, so a QEMU guest idles at ~0% CPU), followed at 1 MiB by
# 4 MiB of deterministic pseudo-random bytes (so snapshots/copies carry recognisable data), converted
# to qcow2.  Built locally: nothing is downloaded.
BOOT_MESSAGE = b"intercloud test image: booted\r\n"
IMAGE_DATA_OFFSET = 1 << 20
IMAGE_DATA_LEN = 4 << 20


def boot_sector():
    code = bytes([
        0xFC,                    # cld
        0x31, 0xC0,              # xor ax, ax
        0x8E, 0xD8,              # mov ds, ax
        0xBE, 0x17, 0x7C,        # mov si, 0x7c17 (message)
        0xBA, 0xF8, 0x03,        # mov dx, 0x3f8 (COM1)
        0xAC,                    # loop: lodsb
        0x84, 0xC0,              # test al, al
        0x74, 0x03,              # jz halt
        0xEE,                    # out dx, al
        0xEB, 0xF8,              # jmp loop
        0xFA,                    # halt: cli
        0xF4,                    # hlt
        0xEB, 0xFC,              # jmp halt
    ])
    assert len(code) == 0x17
    sec = code + BOOT_MESSAGE + b"\0"
    return sec + b"\0" * (510 - len(sec)) + b"\x55\xAA"


def build_image():
    d = os.path.join(STATE_DIR, "images")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, IMAGE_NAME + ".qcow2")
    if os.path.exists(path):
        return path
    with tempfile.TemporaryDirectory(dir=d) as tmp:
        raw = os.path.join(tmp, "disk.raw")
        with open(raw, "wb") as f:
            f.write(boot_sector())
            f.seek(IMAGE_DATA_OFFSET)
            f.write(random.Random(20240601).randbytes(IMAGE_DATA_LEN))
            f.truncate(16 << 20)
        out = os.path.join(tmp, "disk.qcow2")
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, out], check=True)
        os.replace(out, path)   # atomic: the two clouds may build it concurrently
    return path


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
conn = openstack.connect(auth_url=AUTH_URL, username="admin", password="admin", project_name="admin",
                         user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
                         identity_interface="public")
sess = ks_session.Session(auth=v3.Password(auth_url=AUTH_URL, username="admin", password="admin",
                                           project_name="admin", user_domain_name="Default",
                                           project_domain_name="Default"))
ks = ks_client.Client(session=sess)

# 1. compute services up (both hosts) and their resource providers known to Nova
hosts = [FAKE_HOST] + ([QEMU_HOST] if WITH_QEMU else [])
deadline = time.time() + 180
while True:
    svcs = {(s.binary, s.host): s for s in conn.compute.services()}
    missing = [h for h in hosts
               if not (("nova-compute", h) in svcs and svcs[("nova-compute", h)].state == "up")]
    missing += [b for b in ("nova-conductor", "nova-scheduler")
                if not any(k[0] == b and s.state == "up" for k, s in svcs.items())]
    hyps = {h.name for h in conn.compute.hypervisors()}
    if not missing and len(hyps) >= len(hosts):
        break
    if time.time() > deadline:
        fail(f"compute services not up after 180s: {missing or 'hypervisors ' + str(sorted(hyps))} "
             f"(logs {LOG}/nova-compute.log, {LOG}/nova-compute-qemu.log, {LOG}/nova-conductor.log, "
             f"{LOG}/nova-scheduler.log)")
    time.sleep(2)
say(f"compute services up on {hosts}")

# 2. the QEMU compute in its own availability zone "qemu"
if WITH_QEMU:
    agg = next((a for a in conn.compute.aggregates() if a.name == "qemu"), None)
    if agg is None:
        agg = conn.compute.create_aggregate(name="qemu", availability_zone="qemu")
    if QEMU_HOST not in (agg.hosts or []):
        conn.compute.add_host_to_aggregate(agg, QEMU_HOST)
    say("aggregate/AZ qemu ok")

# 3. flavors
flavors = {}
for fid, fname, ram, disk in (("1", "m1.tiny", 128, 1), ("2", "m1.small", 512, 2)):
    f = conn.compute.find_flavor(fid, ignore_missing=True)
    if f is None:
        f = conn.compute.create_flavor(id=fid, name=fname, vcpus=1, ram=ram, disk=disk)
    flavors[fname] = f

# 4. the image
path = build_image()
want_md5 = md5(path)
image = None
for img in conn.image.images(name=IMAGE_NAME):
    if image is None and img.status == "active" and img.checksum == want_md5:
        image = img
    else:
        conn.image.delete_image(img, ignore_missing=True)
if image is None:
    image = conn.image.create_image(name=IMAGE_NAME, disk_format="qcow2", container_format="bare",
                                    visibility="public", min_disk=0, min_ram=0)
    # plain Glance v2 upload (PUT .../file), as the broker itself does it
    with open(path, "rb") as f:
        r = sess.put(f"http://127.0.0.1:{ports['GL_PORT']}/v2/images/{image.id}/file", data=f,
                     headers={"Content-Type": "application/octet-stream"}, raise_exc=False)
    if r.status_code not in (201, 204):
        fail(f"image upload answered {r.status_code} (log {LOG}/glance-api.log)")
    image = conn.image.get_image(image.id)
    if image.status != "active" or image.checksum != want_md5:
        fail(f"image {image.id} is {image.status} checksum {image.checksum}, wanted active {want_md5} "
             f"(log {LOG}/glance-api.log)")
    say(f"image {IMAGE_NAME} uploaded ({image.size} bytes)")

# 5. networks: external "public" (floating IPs) + "private", joined by "router1"
pub_cidr, priv_cidr = f"172.24.{4 + INDEX}.0/24", f"10.0.{INDEX}.0/24"
pub = conn.network.find_network("public") or conn.network.create_network(
    name="public", is_router_external=True, provider_network_type="flat", provider_physical_network="public")
pub_sub = conn.network.find_subnet("public-subnet") or conn.network.create_subnet(
    name="public-subnet", network_id=pub.id, ip_version=4, cidr=pub_cidr,
    gateway_ip=pub_cidr.replace("0/24", "1"), is_dhcp_enabled=False)
priv = conn.network.find_network("private") or conn.network.create_network(name="private")
priv_sub = conn.network.find_subnet("private-subnet") or conn.network.create_subnet(
    name="private-subnet", network_id=priv.id, ip_version=4, cidr=priv_cidr)
router = conn.network.find_router("router1")
if router is None:
    router = conn.network.create_router(name="router1", external_gateway_info={"network_id": pub.id})
if not any(ip.get("subnet_id") == priv_sub.id
           for p in conn.network.ports(device_id=router.id) for ip in p.fixed_ips):
    conn.network.add_interface_to_router(router, subnet_id=priv_sub.id)
say("networks ok")

# 6. application credential for admin (the secret is only shown at creation: keep it in the state dir)
user_id = sess.get_user_id()
project_id = sess.get_project_id()
ac_file = os.path.join(BASE, "appcred.json")
ac = None
if os.path.exists(ac_file):
    ac = json.load(open(ac_file))
    try:
        ks_session.Session(auth=v3.ApplicationCredential(
            auth_url=AUTH_URL, application_credential_id=ac["id"],
            application_credential_secret=ac["secret"])).get_token()
    except Exception as e:  # noqa: BLE001 - any failure means: make a new one
        say(f"stored application credential no longer works ({type(e).__name__}); recreating")
        ac = None
if ac is None:
    for old in ks.application_credentials.list(user=user_id):
        if old.name == APPCRED_NAME:
            ks.application_credentials.delete(old.id, user=user_id)
    new = ks.application_credentials.create(APPCRED_NAME, user=user_id,
                                            description="intercloud broker test suites")
    ac = {"id": new.id, "secret": new.secret, "name": APPCRED_NAME}
    fd = os.open(ac_file + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(ac, f)
    os.replace(ac_file + ".tmp", ac_file)
    say("application credential created")

ep = lambda p: f"http://127.0.0.1:{ports[p]}"  # noqa: E731
print(json.dumps({
    "name": NAME,
    "authUrl": AUTH_URL,
    "region": "RegionOne",
    "username": "admin",
    "password": "admin",
    "projectName": "admin",
    "userDomainName": "Default",
    "projectDomainName": "Default",
    "userId": user_id,
    "projectId": project_id,
    "applicationCredentialId": ac["id"],
    "applicationCredentialSecret": ac["secret"],
    "applicationCredentialName": APPCRED_NAME,
    "imageId": image.id,
    "imageName": IMAGE_NAME,
    "imageDiskFormat": "qcow2",
    "imageChecksum": image.checksum,
    "imageSize": image.size,
    "flavorId": flavors["m1.tiny"].id,
    "flavorName": "m1.tiny",
    "flavors": {n: f.id for n, f in flavors.items()},
    "networkId": priv.id,
    "subnetId": priv_sub.id,
    "externalNetworkId": pub.id,
    "externalSubnetId": pub_sub.id,
    "routerId": router.id,
    "defaultAvailabilityZone": "nova",
    "qemuAvailabilityZone": "qemu" if WITH_QEMU else None,
    "endpoints": {
        "identity": AUTH_URL,
        "compute": ep("NV_PORT") + "/v2.1",
        "image": ep("GL_PORT"),
        "network": ep("NT_PORT"),
        "placement": ep("PL_PORT"),
    },
    "adminrc": os.path.join(BASE, "adminrc"),
    "logDir": LOG,
}))
say("done")
