/** The clone pipeline, in order. The SIP issue adds CONFIGURE, MONITORING and LOAD_BALANCER here. */
import { CloneStep } from '../clone-step';
import { bootStep } from './boot.step';
import { importStep } from './import.step';
import { networkStep } from './network.step';
import { snapshotStep } from './snapshot.step';
import { transferStep } from './transfer.step';

export const cloneSteps: readonly CloneStep[] = [snapshotStep, transferStep, importStep, bootStep, networkStep];
