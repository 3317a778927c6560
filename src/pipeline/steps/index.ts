/** The clone pipeline, in order, built from its dependencies. The SIP issue adds CONFIGURE, MONITORING and LOAD_BALANCER here. */
import { CloneStep, CloneStepDeps } from '../clone-step';
import { bootStep } from './boot.step';
import { importStep } from './import.step';
import { networkStep } from './network.step';
import { snapshotStep } from './snapshot.step';
import { transferStep } from './transfer.step';

export function createCloneSteps(deps: CloneStepDeps): readonly CloneStep[] {
  return [snapshotStep(deps), transferStep(), importStep(deps), bootStep(deps), networkStep(deps)];
}
