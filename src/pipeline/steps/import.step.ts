/** IMPORT: the target Glance has the image active, and its own sha512 agrees with the source's. */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { CloneStep, CloneStepDeps, PermanentStepError, pollUntil } from '../clone-step';

export function importStep(deps: CloneStepDeps): CloneStep {
  return {
    phase: ClonePhase.IMPORT,
    applies: (ctx) => !ctx.intraCloud,

    async run(ctx) {
      const id = ctx.artefacts.targetImageId;
      if (!id) throw new PermanentStepError(StepErrorCode.IMPORT_FAILED, 'TRANSFER recorded no target image');
      const image = await pollUntil(
        async () => {
          const img = await ctx.target.api.getImage(id);
          if (!img || img.status === 'killed' || img.status === 'deleted') {
            throw new PermanentStepError(StepErrorCode.IMPORT_FAILED, `image ${id} in cloud ${ctx.target.cloud.name} is ${img?.status ?? 'gone'}`);
          }
          return img.status === 'active' ? img : null;
        },
        { what: `image ${id} to become active in cloud ${ctx.target.cloud.name}`, timeoutMs: deps.timeouts.importMs, signal: ctx.signal },
      );
      // A converted image is compared with what TRANSFER uploaded, not with the source's bytes.
      const expected = ctx.artefacts.targetImageHash ?? ctx.artefacts.snapshotHash;
      if (image.hashValue && image.hashValue !== expected) {
        throw new PermanentStepError(StepErrorCode.CHECKSUM_MISMATCH, `cloud ${ctx.target.cloud.name} stored image ${id} with a different sha512 than ${ctx.artefacts.targetImageHash ? 'the converted image uploaded' : 'the source'}`);
      }
    },
    // The TRANSFER step's undo deletes the target image.
  };
}
