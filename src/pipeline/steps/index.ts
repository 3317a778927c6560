/** The clone pipeline, in order, built from its dependencies; the SIP phases join when their ports are given. */
import { CloneJobPurpose } from '../../domain/clone-phase';
import { CloneContext, CloneStep, CloneStepDeps } from '../clone-step';
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
  const image = [snapshotStep(deps), transferStep(deps.transferHash, deps.transfer, deps.conversion), importStep(deps)].map((s) => onlyIf(s, needsImage));
  const server = [bootStep(deps), networkStep(deps), ...sip].map((s) => onlyIf(s, makesServer));
  return [...image, ...server];
}

/** A clone that boots from a standby image has its image already: no SNAPSHOT, TRANSFER or IMPORT. */
const needsImage = (ctx: CloneContext) => !ctx.artefacts.standbyImageId;
/** A STANDBY job (prepareStandby) ends once the image is in the target cloud. */
const makesServer = (ctx: CloneContext) => ctx.job.purpose !== CloneJobPurpose.STANDBY;

function onlyIf(step: CloneStep, rule: (ctx: CloneContext) => boolean): CloneStep {
  return { ...step, applies: (ctx) => rule(ctx) && step.applies(ctx) };
}
