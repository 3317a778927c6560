/**
 * The one place an argument vector becomes a command line for the remote shell. SSH carries a
 * single string, which the login shell (POSIX sh, bash, dash) parses: each argument is passed
 * inside single quotes, where that shell gives no character a meaning, so spaces, quotes, `$()`,
 * backticks, globs, `;` and newlines all reach the program literally.
 */

/** Words the shell leaves alone: no quote, expansion, glob, operator or assignment character. */
const BARE = /^[A-Za-z0-9_@%+:,./-]+$/;

/** One argument as a shell word; a `'` inside is closed, escaped and reopened: `it'\''s`. */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument cannot contain a NUL byte (no program could receive it)');
  return BARE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * `['printf', '%s\n', 'a b']` -> `printf '%s\n' 'a b'`. Quoting keeps every argument one
 * literal word; it cannot stop a program from reading an argument that starts with `-` as an
 * option, so callers put `--` before values that may (file names from input, for instance).
 */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('an empty argument vector is no command');
  return argv.map(quoteArg).join(' ');
}
