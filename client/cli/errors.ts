/** Exit codes of `intercloud` and the error that carries one. */
import { IntercloudError } from '../sdk';

export const Exit = {
  OK: 0,
  /** The operation failed: a clone FAILED or was CANCELLED, the broker refused or could not be reached. */
  FAILED: 1,
  /** Bad usage: unknown option, missing argument, unreadable file, bad input, unknown name. */
  USAGE: 2,
  /** No token, or the broker refused it (UNAUTHENTICATED, FORBIDDEN). */
  AUTH: 3,
  /** Ctrl-C detached from a watch (the job goes on). */
  INTERRUPTED: 130,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usage = (message: string) => new CliError(message, Exit.USAGE);

/** The exit code for an SDK error: auth 3, bad input 2, anything else 1. */
export function exitCodeOf(err: IntercloudError): number {
  if (err.isAuth) return Exit.AUTH;
  if (err.code === 'BAD_USER_INPUT' || err.code === 'GRAPHQL_VALIDATION_FAILED') return Exit.USAGE;
  return Exit.FAILED;
}
