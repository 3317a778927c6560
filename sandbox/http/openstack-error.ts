/**
 * Errors as each OpenStack service renders them, so clients' error parsing is exercised for real:
 * Nova `{"itemNotFound": {...}}`, Keystone `{"error": {...}}`, Neutron `{"NeutronError": {...}}`,
 * Glance webob (HTML, or JSON when the client asks for it), keystonemiddleware's 401.
 */
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';

export type ServiceKind = 'keystone' | 'nova' | 'glance' | 'neutron';

export class OpenStackError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Neutron's exception class name (`NetworkNotFound`, `OverQuota`, ...). */
    readonly neutronType?: string,
  ) {
    super(message);
  }
}

/** Thrown by the auth check; rendered the way keystonemiddleware does for every service. */
export class UnauthorizedError extends OpenStackError {
  constructor(readonly identityUri: string) {
    super(401, 'The request you have made requires authentication.');
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** nova/api/openstack/wsgi.py maps status codes to these body keys; anything else is computeFault. */
const NOVA_FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

const NEUTRON_TYPES: Record<number, string> = {
  400: 'HTTPBadRequest',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  409: 'HTTPConflict',
  503: 'HTTPServiceUnavailable',
};

export function titleOf(status: number): string {
  return TITLES[status] ?? 'Error';
}

export function sendError(service: ServiceKind, err: OpenStackError, req: Request, res: Response): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, message } = err;
  if (err instanceof UnauthorizedError) {
    res.setHeader('WWW-Authenticate', `Keystone uri="${err.identityUri}"`);
    res.status(401).json({ error: { code: 401, title: 'Unauthorized', message } });
    return;
  }
  switch (service) {
    case 'keystone':
      res.status(status).json({ error: { code: status, message, title: titleOf(status) } });
      return;
    case 'nova':
      res.status(status).json({ [NOVA_FAULT_NAMES[status] ?? 'computeFault']: { code: status, message } });
      return;
    case 'neutron':
      res.status(status).json({ NeutronError: { type: err.neutronType ?? NEUTRON_TYPES[status] ?? 'HTTPError', message, detail: '' } });
      return;
    case 'glance':
      sendWebobError(status, message, req, res);
      return;
  }
}

/** webob's HTTPException body: JSON when the client asks for JSON, otherwise its small HTML page. */
function sendWebobError(status: number, message: string, req: Request, res: Response): void {
  const code = `${status} ${titleOf(status)}`;
  const accept = req.get('accept') ?? '';
  if (accept.includes('application/json')) {
    res.status(status).json({ message: message, code, title: titleOf(status) });
    return;
  }
  res
    .status(status)
    .type('text/html; charset=UTF-8')
    .send(`<html>\n <head>\n  <title>${code}</title>\n </head>\n <body>\n  <h1>${code}</h1>\n  ${escapeHtml(message)}<br /><br />\n\n\n\n </body>\n</html>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

/** Express error handler for one service: known errors in its format, the rest as a logged 500. */
export function serviceErrorHandler(service: ServiceKind, log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof OpenStackError) {
      sendError(service, err, req, res);
      return;
    }
    const bodyError = err as { type?: string; status?: number };
    if (bodyError.type === 'entity.parse.failed') {
      sendError(service, new OpenStackError(400, 'Malformed request body'), req, res);
      return;
    }
    if (bodyError.type === 'entity.too.large') {
      sendError(service, new OpenStackError(413, 'Request is too large.'), req, res);
      return;
    }
    log.error({ err, method: req.method, url: req.originalUrl }, 'sandbox internal error');
    sendError(service, new OpenStackError(500, 'An unknown exception occurred.'), req, res);
  };
}
