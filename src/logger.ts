/**
 * pino logger. Secrets are redacted by key name at any depth (credentials inside an input,
 * headers inside an error, `cause` chains, child bindings), so a careless log call cannot leak
 * them: pino's path redaction only sees the paths it is told, one level of wildcard deep.
 */
import pino, { DestinationStream, Logger } from 'pino';

const CENSOR = '[redacted]';

/** Keys whose whole value is secret (compared lower-case, without - and _). */
const SECRET_KEYS = new Set(['authorization', 'proxyauthorization', 'credentials', 'cookie', 'setcookie']);
/** …and keys ending like these: password, applicationCredentialSecret, x-auth-token, privateKey, passphrase. */
const SECRET_SUFFIXES = ['password', 'secret', 'token', 'privatekey', 'passphrase'];

/** Deeper than this is cut: a log line is not the place for it, and a walk must end. */
const MAX_DEPTH = 32;

function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEYS.has(k) || SECRET_SUFFIXES.some((s) => k.endsWith(s));
}

/**
 * A copy of `value` with secret keys censored, at any depth. Errors become pino's serialized form
 * (type, message, stack, own fields, `cause` chain) first, so their fields are walked too.
 * The caller's objects are never changed.
 */
export function redact(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  seen.add(value);
  try {
    if (value instanceof Error) return redact(serializeError(value), depth + 1, seen);
    if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
    // Anything with toJSON (URL, Decimal, ...) is logged as what it serializes to.
    const plain = typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(): unknown }).toJSON() : value;
    if (plain !== value) return redact(plain, depth + 1, seen);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = isSecretKey(key) ? CENSOR : redact(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** An error as a plain object: type, message, stack, its own fields, and its cause (of any kind) and aggregated errors, walked next. */
function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.constructor?.name ?? err.name, message: err.message, stack: err.stack };
  for (const [key, v] of Object.entries(err)) if (!(key in out)) out[key] = v;
  if (err.cause !== undefined) out.cause = err.cause;
  if (err instanceof AggregateError) out.errors = err.errors;
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'intercloud-broker' },
    formatters: {
      log: (object) => redact(object) as Record<string, unknown>,
    },
    // Errors are serialized by redact() above, causes included; serializing again would lose their type.
    serializers: { err: (err: unknown) => err },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  // pino applies no formatter to a child's bindings (logger.child({ connection })): redact them as they are bound.
  // Children inherit this from the root, and `this` is whichever logger child() is called on.
  type ChildFn = (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  const child = logger.child as unknown as ChildFn;
  const redactingChild: ChildFn = function (bindings, childOptions) {
    return child.call(this, redact(bindings) as pino.Bindings, childOptions);
  };
  logger.child = redactingChild as unknown as Logger['child'];
  return logger;
}
