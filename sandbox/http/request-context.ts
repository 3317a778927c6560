/**
 * Per-request values set by middleware and read by handlers, kept off Express's untyped
 * `res.locals` so handlers get types.
 */
import { setMaxListeners } from 'node:events';
import type { Request, Response } from 'express';
import type { Fault } from '../behaviour/fault-injector';

export interface AuthContext {
  token: string;
  userId: string;
  userName: string;
  projectId: string;
  projectName: string;
  roles: string[];
  isAdmin: boolean;
}

const auths = new WeakMap<Request, AuthContext>();
const streamFaults = new WeakMap<Request, Fault>();
const microversions = new WeakMap<Request, [number, number]>();

export function setAuth(req: Request, auth: AuthContext): void {
  auths.set(req, auth);
}

export function getAuth(req: Request): AuthContext {
  const auth = auths.get(req);
  if (!auth) throw new Error('route is missing the token check');
  return auth;
}

/** An `abort` fault that a streaming handler (image upload/download) applies after N bytes. */
export function setStreamFault(req: Request, fault: Fault): void {
  streamFaults.set(req, fault);
}

export function getStreamFault(req: Request): Fault | undefined {
  return streamFaults.get(req);
}

export function setMicroversion(req: Request, version: [number, number]): void {
  microversions.set(req, version);
}

/** The negotiated compute microversion as [major, minor]; 2.1 when no header was sent. */
export function getMicroversion(req: Request): [number, number] {
  return microversions.get(req) ?? [2, 1];
}

export function atLeast(req: Request, minor: number): boolean {
  return getMicroversion(req)[1] >= minor;
}

/** Aborts when the client goes away before the response is finished, or when `outer` aborts. */
export function requestSignal(req: Request, res: Response, outer: AbortSignal): AbortSignal {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const abort = (): void => controller.abort();
  res.on('close', () => {
    if (!res.writableFinished) abort();
    outer.removeEventListener('abort', abort);
  });
  req.on('error', abort);
  outer.addEventListener('abort', abort, { once: true });
  return controller.signal;
}

/** A query parameter as one string (the last one wins when repeated, like webob's GET dict). */
export function queryParam(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  if (Array.isArray(value)) return value.length ? String(value[value.length - 1]) : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** A query parameter that may be repeated (`?tag=a&tag=b`). */
export function queryParams(req: Request, name: string): string[] {
  const value: unknown = req.query[name];
  if (Array.isArray(value)) return value.map(String);
  return typeof value === 'string' ? [value] : [];
}
