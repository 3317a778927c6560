/**
 * Shapes of what tenants give the broker to reach their integrations (Nagios, load balancers,
 * SSH): URLs, hosts, ports, paths, command vectors, SQL identifiers, templates. Tenant-supplied
 * and hostile: these rules check the shape only; where a connection may actually go (address
 * classes, resolution) is decided by the adapters on the address they connect to.
 */
import { z } from 'zod';
import { checkTemplate, hasControlCharacter, isIpAddress, isRfc1123Hostname, TemplateContext, TemplateError } from '../domain/template';

/** A host name (RFC 1123) or an IP address (dotted-quad IPv4, or IPv6 without brackets or zone). */
export const hostRule = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .refine((h) => isIpAddress(h) || isRfc1123Hostname(h), 'must be a host name (RFC 1123) or an IP address');

export const portRule = z.number().int('must be a whole number').min(1, 'must be a port (1-65535)').max(65535, 'must be a port (1-65535)');

/** An absolute http(s) URL without user info, query or fragment. */
export function httpUrlRule(what: string) {
  return z
    .string()
    .trim()
    .max(512, 'must be at most 512 characters')
    .superRefine((value, ctx) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be an absolute http(s) URL of ${what}` });
        return;
      }
      const problem =
        url.protocol !== 'http:' && url.protocol !== 'https:'
          ? 'must use http or https'
          : url.username || url.password
            ? 'must not contain user info (user:password@): give credentials in their own fields'
            : url.search || url.hash || value.includes('?') || value.includes('#')
              ? 'must not have a query or fragment'
              : !url.hostname
                ? 'must name a host'
                : null;
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** An absolute path without `..` segments, NUL or other control characters. */
export function absolutePathRule(max = 512) {
  return z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(/^\//, 'must be an absolute path')
    .refine((p) => !hasControlCharacter(p), 'must not contain NUL, newlines or other control characters')
    .refine((p) => !p.split('/').includes('..'), 'must not contain ..');
}

const argText = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((a) => !a.includes('\0'), 'must not contain NUL');

/** An argument vector: the program, then its arguments, each a plain string (never a shell line). */
export function argvRule(o: { maxArgs?: number; maxChars?: number; template?: TemplateContext } = {}) {
  const maxArgs = o.maxArgs ?? 64;
  const element = o.template ? templateRule(o.template, o.maxChars ?? 4096) : argText(o.maxChars ?? 4096);
  return z
    .array(element)
    .min(1, 'must have at least the program name')
    .max(maxArgs, `must have at most ${maxArgs} elements`)
    .refine((argv) => argv.length === 0 || argv[0].trim() !== '', 'must start with a program name');
}

/** SQL table or database names: passed as identifiers, never as text, and held to a strict pattern. */
export const sqlIdentifierRule = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be 1-64 letters, digits or _ and not start with a digit');

/** JSON-RPC method names such as dispatcher.reload or lb_reload. */
export const rpcMethodRule = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]{0,63}$/, 'must be 1-64 letters, digits, _ or . (a JSON-RPC method name)');

/** POSIX login names. */
export const posixUserRule = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a POSIX user name (lower case letters, digits, _ -, at most 32)');

/** Text sent as a credential: bounded, and nothing that could end a header line or a field. */
export function secretRule(o: { min: number; max: number }) {
  return z
    .string()
    .min(o.min, 'must not be empty')
    .max(o.max, `must be at most ${o.max} characters`)
    .refine((s) => !hasControlCharacter(s), 'must not contain control characters');
}

/** A template of the broker's language (src/domain/template.ts) whose variables belong to `context`. */
export function templateRule(context: TemplateContext, max: number) {
  return z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((t) => !t.includes('\0'), 'must not contain NUL')
    .superRefine((text, ctx) => {
      try {
        checkTemplate(text, context);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
      }
    });
}
