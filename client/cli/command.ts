/** Glue between commander and the commands: every leaf command gets --json, a context and an exit code. */
import { Command } from 'commander';
import { CliContext, GlobalOptions } from './context';

export type Handler<A extends unknown[]> = (ctx: CliContext, ...args: A) => Promise<number | void>;

/** Adds --json and an example to a leaf command. */
export function leaf(cmd: Command, example: string): Command {
  return cmd.option('--json', 'print JSON (one object per line for streams) instead of text').addHelpText('after', `\nExample:\n  ${example.split('\n').join('\n  ')}\n`);
}

/** Runs `handler` with a context for the selected profile; its result becomes the exit code. */
export function run<A extends unknown[]>(handler: Handler<A>) {
  return async (...args: unknown[]): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const ctx = CliContext.open(cmd.optsWithGlobals<GlobalOptions>());
    try {
      const code = await handler(ctx, ...(args.slice(0, -1) as A));
      process.exitCode = code ?? 0;
    } finally {
      await ctx.close();
    }
  };
}
