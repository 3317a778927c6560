/**
 * What the SIP service path's steps (clone: CONFIGURE, MONITORING, LOAD_BALANCER; scale-down:
 * LB_REMOVE, DRAIN, UNMONITOR) are built from: the SSH, Nagios and load-balancer ports, the
 * bindings service that resolves and decrypts a VM type's integrations, and how to reach a
 * Nagios server's configuration.
 */
import { HostKey, RemoteShell } from '../../ports/remote-shell.port';
import { MonitoringConfigurator, MonitoringSource, NagiosConfigTarget } from '../../ports/monitoring.port';
import { ReadinessProbe } from '../../ports/readiness-probe.port';
import { SipLoadBalancer } from '../../ports/sip-load-balancer.port';
import { EndpointPolicy } from '../../domain/endpoint-policy';
import { MonitoringAccess, SipBindingsService } from '../../services/sip-bindings.service';
import { TemplateRenderError } from '../../domain/template';
import { PermanentStepError, StepErrorCode } from '../../domain/clone-phase';
import { DataSource } from 'typeorm';

export interface SipTimeouts {
  /** Until the clone's sshd answers and accepts the key (it is still booting). */
  sshReadyMs: number;
  /** One SSH command, file transfer or Nagios verification. */
  commandMs: number;
  /** Until Nagios shows a new host, or the load balancer lists a destination as live (or no longer). */
  registerMs: number;
  /** Between looks while waiting. */
  pollMs: number;
}

export const DEFAULT_SIP_TIMEOUTS: SipTimeouts = { sshReadyMs: 5 * 60_000, commandMs: 120_000, registerMs: 60_000, pollMs: 1000 };

export interface SipStepDeps {
  remoteShell: RemoteShell;
  monitoringSource: MonitoringSource;
  monitoringConfigurator: MonitoringConfigurator;
  sipLoadBalancer: SipLoadBalancer;
  readiness: ReadinessProbe;
  bindings: SipBindingsService;
  /** The endpoint policy: readiness probes go only to addresses it allows. */
  endpointPolicy: EndpointPolicy;
  dataSource: DataSource;
  timeouts: SipTimeouts;
}

/** The tag of a VM's load-balancer row: one per VM, so a retried step and a scale-down find it. */
export function lbTag(vmId: string): string {
  return `intercloud_vm=${vmId}`;
}

/** The pinned key in the shape the SSH port expects (the algorithm may be unknown: fingerprints alone are compared then). */
export function expectedKey(pinned: { algorithm: string | null; fingerprint: string }): HostKey {
  return { algorithm: pinned.algorithm ?? '', fingerprint: pinned.fingerprint };
}

/** Opens an SSH session to the Nagios server and describes its configuration for the configurator. */
export async function nagiosTarget(deps: SipStepDeps, access: MonitoringAccess): Promise<NagiosConfigTarget> {
  const session = await deps.remoteShell.open(access.config.ssh, deps.timeouts.commandMs);
  return {
    session,
    configDir: access.config.configDir,
    verifyCommand: access.config.verifyCommand,
    pidFile: access.config.pidFile,
    sudo: access.config.sudo,
    timeoutMs: deps.timeouts.commandMs,
    programStatus: () => deps.monitoringSource.programStatus(access.status),
  };
}

/** A template that cannot be rendered for this VM fails the step for good, naming what is missing. */
export function rendered<T>(render: () => T): T {
  try {
    return render();
  } catch (err) {
    if (err instanceof TemplateRenderError) throw new PermanentStepError(StepErrorCode.TEMPLATE_FAILED, err.message);
    throw err;
  }
}
