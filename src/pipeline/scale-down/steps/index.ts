/** The scale-down pipeline, in order; the SIP phases join when their ports are given. */
import { ScaleDownStep, ScaleDownStepDeps } from '../scale-down-step';
import { deleteStep } from './delete.step';
import { drainStep } from './drain.step';
import { lbRemoveStep } from './lb-remove.step';
import { unmonitorStep } from './unmonitor.step';

export function createScaleDownSteps(deps: ScaleDownStepDeps): readonly ScaleDownStep[] {
  if (!deps.sip) return [deleteStep(deps)];
  return [lbRemoveStep(deps.sip), drainStep(deps.sip), deleteStep(deps), unmonitorStep(deps.sip)];
}
