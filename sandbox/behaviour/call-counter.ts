/** How many times each operation was called: lets tests assert retries without timing. */
import type { OperationName } from './operation-names';

export class CallCounter {
  private readonly counts = new Map<OperationName, number>();

  count(operation: OperationName): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }

  snapshot(): Partial<Record<OperationName, number>> {
    return Object.fromEntries(this.counts) as Partial<Record<OperationName, number>>;
  }

  reset(): void {
    this.counts.clear();
  }
}
