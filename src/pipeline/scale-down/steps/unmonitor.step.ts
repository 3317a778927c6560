/** UNMONITOR: the removed VM's host leaves Nagios (file removed, configuration verified, reload). */
import { ScaleDownPhase } from '../../../domain/scale-down';
import { renderNagiosHost } from '../../../domain/sip-bindings';
import { nagiosTarget, rendered, SipStepDeps } from '../../sip/sip-step.deps';
import { ScaleDownStep } from '../scale-down-step';

export function unmonitorStep(sip: SipStepDeps): ScaleDownStep {
  return {
    phase: ScaleDownPhase.UNMONITOR,
    applies: (ctx) => !!ctx.vmType?.monitoring,

    async run(ctx) {
      const access = await sip.bindings.monitoringAccess(ctx.vmType!);
      if (!access) return;
      const host = rendered(() => renderNagiosHost(access.binding, ctx.values));
      const target = await nagiosTarget(sip, access);
      try {
        await sip.monitoringConfigurator.removeHostConfig(target, host.fileName);
      } finally {
        await target.session.close();
      }
      ctx.log.info({ nagiosHost: host.hostName }, 'VM removed from Nagios');
    },
  };
}
