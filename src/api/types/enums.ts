/** Domain enums registered with GraphQL, each with a description clients can read. */
import { registerEnumType } from 'type-graphql';
import { CloneEventKind, CloneJobPurpose, ClonePhase, CloneJobState } from '../../domain/clone-phase';
import { CloudHealth, CredentialKind, DrainAction, HostKeySource, LoadBalancerKind, MonitoringHealth, SampleState, ScalingAction, ThresholdRole, VmOrigin } from '../../domain/enums';
import { EstimateSource, HistoryPool } from '../../domain/matchmaking';
import { Role } from '../../domain/roles';
import { ScaleDownPhase } from '../../domain/scale-down';
import { StandbyState } from '../../domain/standby';

registerEnumType(Role, {
  name: 'Role',
  description: 'What a token may do: ADMIN runs the broker, OPERATOR manages its tenant, PARTNER offers clouds, VIEWER reads and subscribes.',
});
registerEnumType(EstimateSource, {
  name: 'EstimateSource',
  description: 'Where a term of a time-to-capacity estimate comes from.',
  valuesConfig: {
    LEARNED: { description: "The median of this tenant's finished clone jobs (see jobs and pool)." },
    DEFAULT: { description: 'A built-in constant (or, for a transfer, the declared link bandwidth): no finished job measured it yet.' },
    STANDBY_IMAGE: { description: 'Zero: the clone boots from a fresh standby image of the VM type already in that cloud.' },
    NOT_NEEDED: { description: 'Zero: the clone does not run it (no transfer within the home cloud; no configuration for a VM type without recipe, monitoring or load balancer).' },
  },
});
registerEnumType(HistoryPool, {
  name: 'HistoryPool',
  description: 'Which finished jobs a learned term comes from: the narrowest pool that has any.',
  valuesConfig: {
    PAIR_AND_TYPE: { description: 'Same source cloud, target cloud and VM type.' },
    PAIR: { description: 'Same source and target cloud, any VM type.' },
    TARGET: { description: 'Same target cloud, any source cloud.' },
  },
});
registerEnumType(CloudHealth, { name: 'CloudHealth', description: 'Result of the last probe of a cloud (Keystone authentication and catalog).' });
registerEnumType(CredentialKind, { name: 'CredentialKind', description: 'Which form of credential a cloud was registered with (the secret itself is never readable).' });
registerEnumType(SampleState, { name: 'SampleState', description: 'Monitoring state of a metric, as Nagios reports it.' });
registerEnumType(ThresholdRole, { name: 'ThresholdRole', description: 'SCALE_UP metrics trigger clones; the SCALE_DOWN metric (underload) triggers removal.' });
registerEnumType(VmOrigin, { name: 'VmOrigin', description: 'How the broker came to know a VM.' });
registerEnumType(LoadBalancerKind, { name: 'LoadBalancerKind', description: 'SIP load balancer whose database the broker edits.' });
registerEnumType(DrainAction, { name: 'DrainAction', description: 'What to do when draining a VM for scale-down times out.' });
registerEnumType(HostKeySource, {
  name: 'HostKeySource',
  description: "Where a VM's pinned SSH host key came from.",
  valuesConfig: {
    IMPORTED: { description: 'Read from the server when it was imported (trust on first use).' },
    SET: { description: 'Given with setVmHostKey.' },
    CLONED: { description: 'Inherited from the VM it was cloned from (a clone carries its source\'s disk and host keys).' },
  },
});
registerEnumType(MonitoringHealth, {
  name: 'MonitoringHealth',
  description: "What the monitoring poller found at a monitoring server's status URL last time.",
  valuesConfig: {
    UNKNOWN: { description: 'Not polled yet (or reached differently since the last poll).' },
    HEALTHY: { description: 'The last poll read its services.' },
    UNREACHABLE: { description: 'The last poll failed (see lastError); it produced no samples.' },
  },
});
registerEnumType(ScalingAction, { name: 'ScalingAction', description: 'What the scheduler decided.' });
registerEnumType(ClonePhase, { name: 'ClonePhase', description: 'Phase of a clone job, in pipeline order; FAILED and CANCELLED end a job after its undo steps ran.' });
registerEnumType(CloneJobPurpose, {
  name: 'CloneJobPurpose',
  description: 'What a clone job makes.',
  valuesConfig: {
    CLONE: { description: 'A running clone (resultVm).' },
    STANDBY: { description: 'Only a standby image in the target cloud (prepareStandby): SNAPSHOT, TRANSFER, IMPORT, then DONE.' },
  },
});
registerEnumType(CloneJobState, {
  name: 'CloneJobState',
  description: 'Lifecycle state of a clone job.',
  valuesConfig: {
    QUEUED: { description: 'Waiting for a broker to take it.' },
    RUNNING: { description: 'A broker works through its phases.' },
    CANCELLING: { description: 'Cancelled: undoing what it made, then CANCELLED.' },
    FAILING: { description: 'A step failed for good (see error): undoing what it made, then FAILED.' },
    DONE: { description: 'The clone is a VM (resultVm).' },
    FAILED: { description: 'Ended after a failure; what it made was undone (unless error.message says otherwise).' },
    CANCELLED: { description: 'Ended after a cancellation; what it made was undone.' },
  },
});
registerEnumType(CloneEventKind, { name: 'CloneJobEventKind', description: 'Kind of a clone job (or scale-down job) event.' });
registerEnumType(ScaleDownPhase, {
  name: 'ScaleDownPhase',
  description: 'Phase of a scale-down job, in order (a phase whose binding the VM type lacks is skipped); FAILED and CANCELLED end a job after its undo steps ran.',
});

registerEnumType(StandbyState, {
  name: 'StandbyState',
  description: 'Where a standby image is in its life.',
  valuesConfig: {
    FRESH: { description: 'In its cloud and not expired: clones of its VM type into that cloud boot from it.' },
    EXPIRED: { description: 'Past its expiry (or released), still in its cloud: no new clone boots from it; deleted once no running clone boots from it.' },
    DELETED: { description: 'Deleted from its cloud.' },
  },
});

export { ScaleDownPhase, StandbyState };
export { CloneEventKind, CloneJobPurpose, ClonePhase, CloneJobState, CloudHealth, CredentialKind, DrainAction, HostKeySource, LoadBalancerKind, MonitoringHealth, Role, SampleState, ScalingAction, ThresholdRole, VmOrigin };
