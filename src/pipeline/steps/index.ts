/** The clone pipeline, in order, built from its dependencies; the SIP phases join when their ports are given. */
import { CloneStep, CloneStepDeps } from '../clone-step';
import { bootStep } from './boot.step';
import { configureStep } from './configure.step';
import { importStep } from './import.step';
import { loadBalancerStep } from './load-balancer.step';
import { monitoringStep } from './monitoring.step';
import { networkStep } from './network.step';
import { snapshotStep } from './snapshot.step';
import { transferStep } from './transfer.step';

export function createCloneSteps(deps: CloneStepDeps): readonly CloneStep[] {
  const sip = deps.sip ? [configureStep(deps.sip), monitoringStep(deps.sip), loadBalancerStep(deps.sip)] : [];
  return [snapshotStep(deps), transferStep(deps.transferHash), importStep(deps), bootStep(deps), networkStep(deps), ...sip];
}
