/**
 * MONITORING: the clone becomes a host in Nagios. The binding's host template is rendered for
 * the clone and written over SSH to the Nagios server's config directory; the whole
 * configuration is verified and Nagios reloaded only if it passes (a HUP with a bad
 * configuration kills Nagios; the configurator restores the previous file on a failed
 * verification). The phase completes when the host shows in Nagios's JSON. Undo removes it.
 */
import { ClonePhase, PermanentStepError, StepErrorCode } from '../../domain/clone-phase';
import { DomainError } from '../../domain/errors';
import { renderNagiosHost } from '../../domain/sip-bindings';
import { CloneContext, CloneStep, pollUntil } from '../clone-step';
import { nagiosTarget, rendered, SipStepDeps } from '../sip/sip-step.deps';
import { cloneTemplateValues } from './clone-values';

export function monitoringStep(sip: SipStepDeps): CloneStep {
  return {
    phase: ClonePhase.MONITORING,
    applies: (ctx) => !!ctx.vmType?.monitoring,

    async run(ctx) {
      const access = await sip.bindings.monitoringAccess(ctx.vmType!);
      if (!access) return;
      const host = rendered(() => renderNagiosHost(access.binding, cloneTemplateValues(ctx)));
      await ctx.checkpoint({ nagiosHostFile: host.fileName });
      const target = await nagiosTarget(sip, access);
      try {
        await sip.monitoringConfigurator.putHostConfig(target, host.fileName, host.content);
      } catch (err) {
        if (err instanceof DomainError && err.details.reason === 'VERIFY_FAILED') throw new PermanentStepError(StepErrorCode.MONITORING_FAILED, err.message);
        throw err;
      } finally {
        await target.session.close();
      }
      await pollUntil(async () => ((await sip.monitoringSource.hasHost(access.status, host.hostName)) ? true : null), {
        what: `host ${host.hostName} to appear in Nagios ${access.server.name}`,
        timeoutMs: sip.timeouts.registerMs,
        signal: ctx.signal,
      });
      ctx.log.info({ nagiosHost: host.hostName, monitoringServerId: access.server.id }, 'clone registered in Nagios');
    },

    async undo(ctx) {
      await removeNagiosHost(sip, ctx);
    },
  };
}

/** Removes the clone's host file (verify, reload); absent is fine. */
async function removeNagiosHost(sip: SipStepDeps, ctx: CloneContext): Promise<void> {
  if (!ctx.vmType?.monitoring) return;
  const access = await sip.bindings.monitoringAccess(ctx.vmType);
  if (!access) return;
  const fileName = ctx.artefacts.nagiosHostFile ?? rendered(() => renderNagiosHost(access.binding, cloneTemplateValues(ctx))).fileName;
  const target = await nagiosTarget(sip, access);
  try {
    await sip.monitoringConfigurator.removeHostConfig(target, fileName);
  } finally {
    await target.session.close();
  }
}
