import { ApiTokenEntity } from './api-token.entity';
import { AuditEntryEntity } from './audit-entry.entity';
import { CloneJobEntity } from './clone-job.entity';
import { CloudEntity } from './cloud.entity';
import { LoadBalancerEntity } from './load-balancer.entity';
import { MetricEntity } from './metric.entity';
import { MonitoringServerEntity } from './monitoring-server.entity';
import { PolicyEntity } from './policy.entity';
import { SampleEntity } from './sample.entity';
import { ScaleDownJobEntity } from './scale-down-job.entity';
import { ScalingDecisionEntity } from './scaling-decision.entity';
import { SshKeyEntity } from './ssh-key.entity';
import { StandbyImageEntity } from './standby-image.entity';
import { EventStreamEntity, StoredEventEntity } from './stored-event.entity';
import { TenantEntity } from './tenant.entity';
import { ThresholdEntity } from './threshold.entity';
import { VmTypeEntity } from './vm-type.entity';
import { VmEntity } from './vm.entity';

export const entities = [
  TenantEntity,
  ApiTokenEntity,
  CloudEntity,
  SshKeyEntity,
  MonitoringServerEntity,
  LoadBalancerEntity,
  VmTypeEntity,
  MetricEntity,
  ThresholdEntity,
  VmEntity,
  SampleEntity,
  PolicyEntity,
  CloneJobEntity,
  ScaleDownJobEntity,
  StoredEventEntity,
  EventStreamEntity,
  ScalingDecisionEntity,
  AuditEntryEntity,
  StandbyImageEntity,
];

export {
  ApiTokenEntity,
  AuditEntryEntity,
  CloneJobEntity,
  CloudEntity,
  EventStreamEntity,
  LoadBalancerEntity,
  MetricEntity,
  MonitoringServerEntity,
  PolicyEntity,
  SampleEntity,
  ScaleDownJobEntity,
  ScalingDecisionEntity,
  SshKeyEntity,
  StandbyImageEntity,
  StoredEventEntity,
  TenantEntity,
  ThresholdEntity,
  VmEntity,
  VmTypeEntity,
};
