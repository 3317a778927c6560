/** pino logger; secrets are redacted by path so a careless log call cannot leak them. */
import pino, { Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'intercloud-broker' },
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        'authorization',
        '*.password',
        '*.applicationCredentialSecret',
        '*.secret',
        '*.privateKey',
        'credentials',
        '*.credentials',
      ],
      censor: '[redacted]',
    },
  });
}
