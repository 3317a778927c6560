/**
 * What the SIP pipeline steps (CONFIGURE, MONITORING, LOAD_BALANCER, scale-down DRAIN) need
 * from a VM type's bindings, resolved and decrypted in one place: the recipe with the SSH login,
 * the Nagios server's status endpoint and SSH access, the load balancer's connection, and the
 * template values of a VM. For the steps only: nothing here may be returned through the API.
 */
import { DataSource } from 'typeorm';
import { CloudEntity, LoadBalancerEntity, MonitoringServerEntity, SshKeyEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { ConfigureRecipe, LoadBalancerBinding, MonitoringBinding } from '../domain/entities/vm-type.entity';
import { TemplateValues } from '../domain/template';
import { vmTemplateValues } from '../domain/template-values';
import { NagiosStatusEndpoint } from '../ports/monitoring.port';
import { SipLoadBalancerConnection } from '../ports/sip-load-balancer.port';
import { LoadBalancerService } from './load-balancer.service';
import { MonitoringConfigAccess, MonitoringServerService } from './monitoring-server.service';
import { SshKeyService, SshLogin } from './ssh-key.service';

export interface ConfigureAccess {
  recipe: ConfigureRecipe;
  login: SshLogin;
  /** The recipe's sudo, or (when it leaves it open) whether the key's user is not root. */
  sudo: boolean;
}

export interface MonitoringAccess {
  binding: MonitoringBinding;
  server: MonitoringServerEntity;
  status: NagiosStatusEndpoint;
  config: MonitoringConfigAccess;
}

export interface LoadBalancerAccess {
  binding: LoadBalancerBinding;
  loadBalancer: LoadBalancerEntity;
  connection: SipLoadBalancerConnection;
}

export class SipBindingsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly sshKeys: SshKeyService,
    private readonly monitoringServers: MonitoringServerService,
    private readonly loadBalancers: LoadBalancerService,
  ) {}

  /** Null when the VM type has no recipe (CONFIGURE is skipped). */
  async configureAccess(vmType: VmTypeEntity): Promise<ConfigureAccess | null> {
    const recipe = vmType.configureRecipe;
    if (!recipe) return null;
    const key = await this.dataSource.getRepository(SshKeyEntity).findOneByOrFail({ id: recipe.sshKeyId, tenantId: vmType.tenantId });
    const login = this.sshKeys.loginOf(key);
    return { recipe, login, sudo: recipe.sudo ?? login.username !== 'root' };
  }

  /** Null when the VM type has no monitoring binding (MONITORING and UNMONITOR are skipped). */
  async monitoringAccess(vmType: VmTypeEntity): Promise<MonitoringAccess | null> {
    const binding = vmType.monitoring;
    if (!binding) return null;
    const server = await this.dataSource.getRepository(MonitoringServerEntity).findOneByOrFail({ id: binding.serverId, tenantId: vmType.tenantId });
    return { binding, server, status: this.monitoringServers.statusEndpointOf(server), config: await this.monitoringServers.configAccessOf(server) };
  }

  /** Null when the VM type has no load-balancer binding (LOAD_BALANCER, LB_REMOVE and DRAIN are skipped). */
  async loadBalancerAccess(vmType: VmTypeEntity): Promise<LoadBalancerAccess | null> {
    const binding = vmType.loadBalancer;
    if (!binding) return null;
    const loadBalancer = await this.dataSource.getRepository(LoadBalancerEntity).findOneByOrFail({ id: binding.loadBalancerId, tenantId: vmType.tenantId });
    return { binding, loadBalancer, connection: this.loadBalancers.connectionOf(loadBalancer) };
  }

  /**
   * The template values of `vm` (a clone: its source's fixed address as sourceFixedIp), the same
   * values the monitoring poller renders host names with. `jobId` overrides vm.cloneJobId (a
   * clone job renders for its VM before the VM row records the job).
   */
  async templateValuesOf(vm: VmEntity, vmType: VmTypeEntity, jobId?: string | null): Promise<TemplateValues> {
    const cloud = await this.dataSource.getRepository(CloudEntity).findOneOrFail({ where: { id: vm.cloudId }, select: { id: true, name: true } });
    const sourceVm = vm.sourceVmId ? await this.dataSource.getRepository(VmEntity).findOne({ where: { id: vm.sourceVmId }, select: { id: true, addresses: true } }) : null;
    return vmTemplateValues({ vm, cloudName: cloud.name, vmTypeName: vmType.name, sourceVm, jobId });
  }
}
