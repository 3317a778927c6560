/**
 * "The next N calls of operation X fail / hang / abort": a queue of armed faults consumed by
 * the operations that match them, in the order they were injected.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isKnownPattern, matchesOperation, type OperationName } from './operation-names';

export const faultSpecSchema = z
  .object({
    /** Operation name or prefix pattern (`nova.*`); see operation-names.ts. */
    operation: z.string().refine(isKnownPattern, { message: 'matches no known operation (see sandbox/README.md)' }),
    /**
     * fail: answer with `status` (default 503) in the service's error format.
     * hang: hold the request (no answer) for `hangMs`, or until faults are cleared or the cloud stops;
     *       then it proceeds normally.
     * abort: drop the TCP connection; for image upload/download after `afterBytes` bytes of the body.
     * delay: carry the call out after `hangMs` (default 2000) even if the client has gone meanwhile,
     *        as an API worker finishes a request whose client timed out (nova-api does).
     * hang-after: carry the call out at once but hold its answer, like `hang`: a lost answer, the
     *        client times out although the cloud did the work.
     */
    mode: z.enum(['fail', 'hang', 'abort', 'delay', 'hang-after']).default('fail'),
    /** How many matching calls it affects; "always" until cleared. */
    count: z.union([z.number().int().positive(), z.literal('always')]).default(1),
    status: z.number().int().min(400).max(599).default(503),
    hangMs: z.number().int().positive().optional(),
    afterBytes: z.number().int().min(0).optional(),
    message: z.string().optional(),
  })
  .strict();
export type FaultSpec = z.input<typeof faultSpecSchema>;
export type Fault = z.infer<typeof faultSpecSchema> & { id: string };
export interface FaultInfo extends Fault {
  /** Calls it will still affect ("always" for a permanent fault). */
  remaining: number | 'always';
}

export class FaultInjector {
  private armed: FaultInfo[] = [];
  private readonly releases = new Set<() => void>();

  inject(spec: FaultSpec): FaultInfo {
    const parsed = faultSpecSchema.parse(spec);
    const fault: FaultInfo = { ...parsed, id: randomUUID(), remaining: parsed.count };
    this.armed.push(fault);
    return { ...fault };
  }

  /** Consumes one use of the first armed fault matching the operation, if any. */
  take(operation: OperationName): Fault | undefined {
    const fault = this.armed.find((f) => matchesOperation(f.operation, operation));
    if (!fault) return undefined;
    if (fault.remaining !== 'always') {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.armed = this.armed.filter((f) => f !== fault);
    }
    return { ...fault };
  }

  list(): FaultInfo[] {
    return this.armed.map((f) => ({ ...f }));
  }

  /** Disarms all faults (or one) and lets every hanging call proceed. */
  clear(id?: string): void {
    this.armed = id ? this.armed.filter((f) => f.id !== id) : [];
    if (!id) {
      for (const release of [...this.releases]) release();
    }
  }

  /**
   * Resolves when the hang ends: after `hangMs`, when faults are cleared, or when `signal`
   * aborts (client gone or cloud stopping); it never rejects.
   */
  hold(fault: Fault, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const release = (): void => {
        if (timer) clearTimeout(timer);
        this.releases.delete(release);
        signal.removeEventListener('abort', release);
        resolve();
      };
      this.releases.add(release);
      signal.addEventListener('abort', release, { once: true });
      if (fault.hangMs !== undefined) timer = setTimeout(release, fault.hangMs);
      if (signal.aborted) release();
    });
  }
}
