/**
 * Finding: log redaction only covered fixed paths one level deep, so credentials inside an input,
 * headers inside an error's details and secrets in a `cause` chain were written to the log.
 * The broker's own logger (src/logger.ts) is captured here as its pino output.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger';
import { UpstreamUnavailableError } from '../../src/domain/errors';

const SECRETS = ['hunter2-password', 'app-cred-secret-xyz', 'gAAAA-keystone-token', 'Bearer icb_api_token_abc', '-----BEGIN OPENSSH PRIVATE KEY-----'];

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

describe('log redaction', () => {
  it('censors secrets at any depth: inputs, error details and headers, cause chains, arrays, child bindings', () => {
    const { logger, lines } = capture();
    const input = { name: 'partner-b', authUrl: 'https://keystone.example/v3', credentials: { username: 'admin', password: SECRETS[0] } };
    logger.info({ mutation: 'registerCloud', args: { input } }, 'nested input');
    logger.info({ a: { b: { c: { d: { e: { f: { g: { password: SECRETS[0], applicationCredentialSecret: SECRETS[1] } } } } } } } }, 'deep');

    const inner = Object.assign(new Error('keystone said no'), { request: { headers: { 'X-Auth-Token': SECRETS[2], authorization: SECRETS[3] } } });
    const outer = new UpstreamUnavailableError('cloud x: keystone POST /auth/tokens failed', { cloudId: 'c1', request: { headers: { 'x-subject-token': SECRETS[2] } } });
    Object.assign(outer, { cause: inner });
    logger.error({ err: outer }, 'error with headers and a cause');
    logger.warn({ result: { failures: [{ error: new Error('boom', { cause: { privateKey: SECRETS[4] } }) }] } }, 'error inside an array');
    logger.child({ connection: { credentials: { applicationCredentialSecret: SECRETS[1] } } }).info('child bindings');

    const out = lines.join('\n');
    for (const secret of SECRETS) expect(out).not.toContain(secret);
    expect(lines).toHaveLength(5);

    const [first, second, third, fourth] = lines.map((l) => JSON.parse(l));
    expect(first.args.input).toEqual({ name: 'partner-b', authUrl: 'https://keystone.example/v3', credentials: '[redacted]' });
    expect(second.a.b.c.d.e.f.g).toEqual({ password: '[redacted]', applicationCredentialSecret: '[redacted]' });
    // The error stays useful: type, message, non-secret details and the cause are all there.
    expect(third.err).toMatchObject({
      type: 'UpstreamUnavailableError',
      message: 'cloud x: keystone POST /auth/tokens failed',
      details: { cloudId: 'c1', request: { headers: { 'x-subject-token': '[redacted]' } } },
      cause: { message: 'keystone said no', request: { headers: { 'X-Auth-Token': '[redacted]', authorization: '[redacted]' } } },
    });
    expect(fourth.result.failures[0].error).toMatchObject({ message: 'boom', cause: { privateKey: '[redacted]' } });
  });

  it('leaves the objects it was given alone, and survives cycles', () => {
    const { logger, lines } = capture();
    const input: Record<string, unknown> = { credentials: { password: SECRETS[0] } };
    input.self = input;
    logger.info({ input }, 'cyclic');
    expect((input.credentials as { password: string }).password).toBe(SECRETS[0]);
    expect(JSON.parse(lines[0]!).input).toEqual({ credentials: '[redacted]', self: '[circular]' });
  });
});
