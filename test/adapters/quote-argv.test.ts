/**
 * quoteArgv: an argument vector as one command line that POSIX shells (dash as /bin/sh, bash)
 * split back into exactly the same arguments.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { quoteArg, quoteArgv } from '../../src/adapters/ssh/quote-argv';

/** What `shell -c` makes of the command line: its arguments, NUL-separated by printf. */
function parsedBy(shell: string, argv: readonly string[]): string[] {
  const out = execFileSync(shell, ['-c', `printf '%s\\0' ${quoteArgv(argv)}`]).toString('utf8');
  return out.split('\0').slice(0, -1);
}

const HOSTILE = [
  'two words',
  "it's",
  '"double"',
  "''",
  '$(id)',
  '`id`',
  '${PATH}',
  '$0',
  'new\nline',
  '\r\n',
  'semi;colon',
  'a && b || c',
  'pipe | x',
  '> out < in',
  '2>&1',
  '*',
  '?',
  '[abc]',
  '{a,b}',
  '~',
  '~root/x',
  '-n',
  '--',
  '-rf',
  '',
  ' ',
  '\t',
  'back\\slash',
  '\\',
  '!',
  '!!',
  '#hash',
  'a=b',
  'PATH=/tmp',
  '%s',
  'ünïcødé ✓ 日本語 🙂',
  '\u0001\u001b[31m',
  "'; rm -rf / #",
];

describe('quoteArgv', () => {
  it('leaves plain words bare and single-quotes everything else', () => {
    expect(quoteArgv(['nagios4', '-v', '/etc/nagios4/nagios.cfg'])).toBe('nagios4 -v /etc/nagios4/nagios.cfg');
    expect(quoteArgv(['printf', '%s\n', 'a b'])).toBe("printf '%s\n' 'a b'");
    expect(quoteArgv(['echo', "it's"])).toBe("echo 'it'\\''s'");
    expect(quoteArgv(['echo', ''])).toBe("echo ''");
    expect(quoteArgv(['echo', '$(id)', '`id`', '*'])).toBe("echo '$(id)' '`id`' '*'");
    // An assignment-looking first word is a program name, not an assignment.
    expect(quoteArg('FOO=bar')).toBe("'FOO=bar'");
    expect(quoteArg('~')).toBe("'~'");
  });

  it.each(['sh', 'bash'])('gives %s back exactly the hostile arguments', (shell) => {
    expect(parsedBy(shell, HOSTILE)).toEqual(HOSTILE);
    for (const value of HOSTILE) expect(parsedBy(shell, [value])).toEqual([value]);
  });

  it('survives random strings of shell-special characters', () => {
    const alphabet = ` \t\n'"\\$\`!#&|;<>(){}[]*?~=%^,.:/-_aZ09ü✓`;
    const samples = Array.from({ length: 200 }, () => Array.from({ length: randomInt(0, 12) }, () => alphabet[randomInt(alphabet.length)]).join(''));
    expect(parsedBy('sh', samples)).toEqual(samples);
  });

  it('refuses what no program could receive', () => {
    expect(() => quoteArgv([])).toThrow(/empty argument vector/);
    expect(() => quoteArgv(['echo', 'nul\0byte'])).toThrow(/NUL byte/);
  });
});
