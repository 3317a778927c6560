/** The broker's own logger (src/logger.ts, redaction included) writing into memory, for tests that read what was logged. */
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger';

export interface CapturedLogs {
  logger: Logger;
  /** Every line so far, parsed. */
  lines(): Record<string, any>[];
  /** Every line so far, as written. */
  text(): string;
}

export function captureLogs(level = 'info'): CapturedLogs {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return {
    logger: createLogger(level, stream),
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, any>),
    text: () => raw.join('\n'),
  };
}
