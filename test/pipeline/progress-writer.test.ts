/** Progress reports are stored one at a time and never out of order: a later report is never overwritten by an earlier one. */
import { SerialProgressWriter } from '../../src/pipeline/clone-progress';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SerialProgressWriter', () => {
  it('writes one report at a time, in offer order, skipping superseded ones, and settles after the last', async () => {
    const written: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const writer = new SerialProgressWriter<number>(
      async (n) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // Writes that take longer than the gaps between offers, as a busy database's do.
        await tick(n % 3 === 0 ? 5 : 1);
        written.push(n);
        inFlight -= 1;
      },
      (err) => {
        throw err;
      },
    );
    for (let n = 1; n <= 200; n++) {
      writer.offer(n);
      if (n % 7 === 0) await tick(1);
    }
    await writer.settled();
    expect(maxInFlight).toBe(1);
    expect(written.at(-1)).toBe(200);
    expect(written.every((n, i) => i === 0 || n > written[i - 1])).toBe(true);
    expect(written.length).toBeLessThan(200);
  });

  it('keeps going after a failed write and reports the failure', async () => {
    const written: number[] = [];
    const errors: unknown[] = [];
    const writer = new SerialProgressWriter<number>(
      async (n) => {
        await tick(1);
        if (n === 1) throw new Error('database gone for a moment');
        written.push(n);
      },
      (err) => errors.push(err),
    );
    writer.offer(1);
    writer.offer(2);
    await writer.settled();
    writer.offer(3);
    await writer.settled();
    expect(written).toEqual([2, 3]);
    expect(errors).toHaveLength(1);
  });
});
