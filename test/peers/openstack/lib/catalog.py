"""Create the service project, the service users and the catalog of one cloud (idempotent).

Usage: catalog.py KEYSTONE_PORT GLANCE_PORT PLACEMENT_PORT NOVA_PORT NEUTRON_PORT
"""
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

ks, gl, pl, nv, nt = sys.argv[1:]
s = session.Session(auth=v3.Password(
    auth_url=f"http://127.0.0.1:{ks}/v3", username="admin", password="admin", project_name="admin",
    user_domain_id="default", project_domain_id="default"))
k = client.Client(session=s)


def one(mgr, **kw):
    r = mgr.list(**kw)
    return r[0] if r else None


svcp = one(k.projects, name="service") or k.projects.create("service", "default")
roles = {r.name: r for r in k.roles.list()}
for name in ("service", "member", "reader"):
    if name not in roles:
        roles[name] = k.roles.create(name)
for u in ("glance", "nova", "placement", "neutron"):
    usr = one(k.users, name=u) or k.users.create(u, domain="default", password=u)
    for r in ("admin", "service"):
        k.roles.grant(roles[r], user=usr, project=svcp)
for typ, name, url in [("image", "glance", f"http://127.0.0.1:{gl}"),
                       ("placement", "placement", f"http://127.0.0.1:{pl}"),
                       ("compute", "nova", f"http://127.0.0.1:{nv}/v2.1"),
                       ("network", "neutron", f"http://127.0.0.1:{nt}")]:
    svc = one(k.services, type=typ) or k.services.create(name, type=typ)
    have = {e.interface for e in k.endpoints.list(service=svc)}
    for itf in ("public", "internal", "admin"):
        if itf not in have:
            k.endpoints.create(svc, url, interface=itf, region="RegionOne")
print("catalog ok")
