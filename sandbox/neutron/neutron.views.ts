/** Neutron resources as the v2.0 API shows them (ML2/OVN-era attribute set). */
import { createHash } from 'node:crypto';
import type { CloudContext } from '../cloud/cloud.context';
import type { FloatingIpRecord, NetworkRecord, PortRecord, RouterRecord, SubnetRecord } from '../cloud/cloud.state';

export function neutronTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function standard(projectId: string, createdAt: Date, updatedAt: Date = createdAt, revision = 0): Record<string, unknown> {
  return {
    tenant_id: projectId,
    project_id: projectId,
    description: '',
    tags: [],
    created_at: neutronTime(createdAt),
    updated_at: neutronTime(updatedAt),
    revision_number: revision,
  };
}

/** One "default" security group per project, with an id stable for the project. */
export function defaultSecurityGroupId(projectId: string): string {
  const h = createHash('md5').update(`secgroup/${projectId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function networkView(n: NetworkRecord): Record<string, unknown> {
  return {
    ...standard(n.projectId, n.createdAt, n.createdAt, 1),
    id: n.id,
    name: n.name,
    admin_state_up: true,
    status: 'ACTIVE',
    subnets: [...n.subnetIds],
    shared: n.shared,
    'router:external': n.external,
    is_default: n.external,
    mtu: 1442,
    availability_zone_hints: [],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    port_security_enabled: true,
    qos_policy_id: null,
    dns_domain: '',
    l2_adjacency: true,
  };
}

export function subnetView(s: SubnetRecord): Record<string, unknown> {
  return {
    ...standard(s.projectId, s.createdAt),
    id: s.id,
    name: s.name,
    network_id: s.networkId,
    ip_version: 4,
    cidr: s.cidr,
    gateway_ip: s.gatewayIp,
    allocation_pools: s.allocationPools.map((p) => ({ ...p })),
    enable_dhcp: true,
    dns_nameservers: [],
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    service_types: [],
    segment_id: null,
    dns_publish_fixed_ip: false,
  };
}

export function portView(p: PortRecord, isAdmin: boolean): Record<string, unknown> {
  const view: Record<string, unknown> = {
    ...standard(p.projectId, p.createdAt, p.updatedAt, 2),
    id: p.id,
    name: p.name,
    network_id: p.networkId,
    mac_address: p.macAddress,
    admin_state_up: true,
    status: p.status,
    device_id: p.deviceId,
    device_owner: p.deviceOwner,
    fixed_ips: p.fixedIps.map((ip) => ({ subnet_id: ip.subnetId, ip_address: ip.ipAddress })),
    allowed_address_pairs: [],
    extra_dhcp_opts: [],
    security_groups: p.deviceOwner.startsWith('compute:') ? [defaultSecurityGroupId(p.projectId)] : [],
    port_security_enabled: true,
    'binding:vnic_type': 'normal',
    dns_name: '',
    dns_assignment: [],
    qos_policy_id: null,
    propagate_uplink_status: false,
  };
  if (isAdmin) Object.assign(view, { 'binding:host_id': p.status === 'ACTIVE' ? 'sandbox-compute' : '', 'binding:profile': {}, 'binding:vif_details': {}, 'binding:vif_type': p.status === 'ACTIVE' ? 'ovs' : 'unbound' });
  return view;
}

export function routerView(cloud: CloudContext, r: RouterRecord): Record<string, unknown> {
  const externalSubnet = cloud.state.networks.get(r.externalNetworkId)?.subnetIds[0];
  return {
    ...standard(r.projectId, r.createdAt, r.createdAt, 3),
    id: r.id,
    name: r.name,
    admin_state_up: true,
    status: 'ACTIVE',
    external_gateway_info: {
      network_id: r.externalNetworkId,
      enable_snat: true,
      external_fixed_ips: [{ subnet_id: externalSubnet, ip_address: r.externalIp }],
    },
    routes: [],
    availability_zone_hints: [],
    availability_zones: ['nova'],
    distributed: false,
    ha: false,
    flavor_id: null,
  };
}

export function floatingIpView(cloud: CloudContext, f: FloatingIpRecord): Record<string, unknown> {
  const port = f.portId ? cloud.state.ports.get(f.portId) : undefined;
  return {
    ...standard(f.projectId, f.createdAt, f.updatedAt, f.revision),
    id: f.id,
    floating_ip_address: f.address,
    floating_network_id: f.floatingNetworkId,
    router_id: f.routerId,
    port_id: f.portId,
    fixed_ip_address: f.fixedIpAddress,
    status: f.status,
    description: f.description,
    dns_domain: '',
    dns_name: '',
    qos_policy_id: null,
    port_forwardings: [],
    port_details: port
      ? {
          name: port.name,
          network_id: port.networkId,
          mac_address: port.macAddress,
          admin_state_up: true,
          status: port.status,
          device_id: port.deviceId,
          device_owner: port.deviceOwner,
        }
      : null,
  };
}

export function securityGroupView(projectId: string, createdAt: Date): Record<string, unknown> {
  return {
    ...standard(projectId, createdAt),
    id: defaultSecurityGroupId(projectId),
    name: 'default',
    description: 'Default security group',
    stateful: true,
    security_group_rules: [],
  };
}
