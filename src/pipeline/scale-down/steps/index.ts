/** The scale-down pipeline, in order. The SIP integration adds LB_REMOVE, DRAIN and UNMONITOR here. */
import { ScaleDownStep, ScaleDownStepDeps } from '../scale-down-step';
import { deleteStep } from './delete.step';

export function createScaleDownSteps(deps: ScaleDownStepDeps): readonly ScaleDownStep[] {
  return [deleteStep(deps)];
}
