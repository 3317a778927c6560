/**
 * graphql-ws subscriptions that survive the broker going away. graphql-ws's own retry would
 * re-send each subscription with the variables it started with; here the client's retries are
 * off and this module reconnects itself (exponential backoff with jitter), re-subscribing every
 * live subscription with `afterSeq` set to the last seq it delivered. The broker then replays
 * what was stored meanwhile and goes on live, and anything at or below that seq (a replay racing
 * a live event) is dropped here: a consumer sees each event once, in order, across restarts.
 *
 * A subscription used without resume options is re-subscribed too, live; what happened while the
 * connection was down is not replayed for it, so `onResubscribed(false)` tells its consumer, who
 * may re-read by query. The same holds for a resumable subscription that started live (no
 * afterSeq) and had delivered nothing yet when the connection went. (cloneJobUpdates resumes by
 * `updateSeq`, its position in the tenant's clone updates, not by the per-job `seq`.)
 */
import { Client, CloseCode, createClient } from 'graphql-ws';
import { GraphQLErrorShape, IntercloudError } from './errors';
import type { Operation } from './http';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface SubscriptionHandlers<T> {
  next(data: T): void;
  /** Permanent failure (refused token, unknown job, invalid variables): the subscription is over. */
  error?(err: IntercloudError): void;
  /** The broker ended the subscription. */
  complete?(): void;
  /** The subscription is live again after a reconnect; `replayed` is true when it resumed with afterSeq, so nothing was missed. */
  onResubscribed?(replayed: boolean): void;
}

export interface ResumeOptions<T> {
  /** The seq of a delivered event; with it the subscription resumes with `afterSeq`. */
  seqOf: (data: T) => number;
  /** Variable that carries the resume point (default `afterSeq`). */
  variable?: string;
}

export interface SubscriptionTransportOptions {
  /** ws:// or wss:// URL of /graphql. */
  url: string;
  token: () => string | null | undefined;
  /** A WebSocket implementation (Node 20 has none built in: pass `ws`); default the global one. */
  webSocketImpl?: unknown;
  /** Reconnect backoff: first delay and cap, in ms (default 250 and 10 000). */
  retryDelayMs?: { initial: number; max: number };
  /** A ping every `keepAliveMs` (default 10 s); no pong within as long again closes the socket, which is then reconnected. */
  keepAliveMs?: number;
  onStateChange?: (state: ConnectionState) => void;
}

interface Managed {
  query: string;
  variables: Record<string, unknown>;
  handlers: SubscriptionHandlers<unknown>;
  resume: ResumeOptions<unknown> | null;
  lastSeq: number | null;
  started: boolean;
  stopped: boolean;
  stopAttempt: (() => void) | null;
}

/** Close codes after which a retry cannot help: the same request would be refused again. */
const FATAL_CLOSE = new Set<number>([CloseCode.BadRequest, CloseCode.Unauthorized, CloseCode.Forbidden, CloseCode.SubprotocolNotAcceptable, CloseCode.TooManyInitialisationRequests]);

function isCloseEvent(e: unknown): e is { code: number; reason: string } {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' && 'reason' in e;
}

export class SubscriptionTransport {
  private client: Client | null = null;
  private readonly subs = new Set<Managed>();
  private readonly waiting = new Set<Managed>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private state: ConnectionState = 'idle';
  private closed = false;

  constructor(private readonly o: SubscriptionTransportOptions) {}

  get connectionState(): ConnectionState {
    return this.state;
  }

  subscribe<TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    variables: TVariables,
    handlers: SubscriptionHandlers<TResult>,
    resume?: ResumeOptions<TResult>,
  ): () => void {
    if (this.closed) throw new IntercloudError('the client is closed', 'BAD_REQUEST');
    const vars = { ...(variables as Record<string, unknown>) };
    const variable = resume?.variable ?? 'afterSeq';
    const m: Managed = {
      query: operation.toString(),
      variables: vars,
      handlers: handlers as SubscriptionHandlers<unknown>,
      resume: resume ? { seqOf: resume.seqOf as (d: unknown) => number, variable } : null,
      lastSeq: resume && typeof vars[variable] === 'number' ? (vars[variable] as number) : null,
      started: false,
      stopped: false,
      stopAttempt: null,
    };
    this.subs.add(m);
    this.start(m);
    return () => this.stop(m);
  }

  /** Subscriptions as an async iterator; `return()` (a `break` in for-await) unsubscribes. */
  iterate<TResult, TVariables>(operation: Operation<TResult, TVariables>, variables: TVariables, resume?: ResumeOptions<TResult>): AsyncIterableIterator<TResult> {
    const queue: TResult[] = [];
    let failure: IntercloudError | null = null;
    let ended = false;
    let wake: (() => void) | null = null;
    const poke = () => {
      wake?.();
      wake = null;
    };
    const unsubscribe = this.subscribe(
      operation,
      variables,
      {
        next: (d) => {
          queue.push(d);
          poke();
        },
        error: (e) => {
          failure = e;
          poke();
        },
        complete: () => {
          ended = true;
          poke();
        },
      },
      resume,
    );
    const iterator: AsyncIterableIterator<TResult> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        for (;;) {
          if (queue.length > 0) return { value: queue.shift() as TResult, done: false };
          if (failure) throw failure;
          if (ended) return { value: undefined, done: true };
          await new Promise<void>((r) => (wake = r));
        }
      },
      return: async () => {
        ended = true;
        unsubscribe();
        poke();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const m of [...this.subs]) this.stop(m);
    const c = this.client;
    this.client = null;
    this.setState('closed');
    await c?.dispose();
  }

  private ws(): Client {
    if (this.client) return this.client;
    let pongTimer: ReturnType<typeof setTimeout> | null = null;
    let socket: { close(code?: number, reason?: string): void } | null = null;
    const keepAlive = this.o.keepAliveMs ?? 10_000;
    this.client = createClient({
      url: this.o.url,
      webSocketImpl: this.o.webSocketImpl,
      lazy: true,
      lazyCloseTimeout: 1000,
      // Reconnects are ours (see the module comment); graphql-ws would resume with stale variables.
      retryAttempts: 0,
      keepAlive,
      connectionParams: () => {
        const token = this.o.token();
        return token ? { authorization: `Bearer ${token}` } : {};
      },
      on: {
        connecting: () => this.setState(this.attempt > 0 ? 'reconnecting' : 'connecting'),
        connected: (s) => {
          socket = s as typeof socket;
          this.attempt = 0;
          this.setState('connected');
        },
        ping: (_s, received) => {
          if (received) return;
          if (pongTimer) clearTimeout(pongTimer);
          pongTimer = setTimeout(() => socket?.close(4499, 'Terminated: no pong'), keepAlive);
        },
        pong: () => {
          if (pongTimer) clearTimeout(pongTimer);
          pongTimer = null;
        },
        closed: () => {
          if (pongTimer) clearTimeout(pongTimer);
          pongTimer = null;
          socket = null;
          if (!this.closed && this.state !== 'closed') this.setState(this.waiting.size > 0 || this.subs.size > 0 ? 'reconnecting' : 'idle');
        },
      },
    });
    return this.client;
  }

  private start(m: Managed): void {
    if (m.stopped || this.closed) return;
    const variable = m.resume?.variable ?? 'afterSeq';
    // The payload object is also the one graphql-ws re-sends if it ever retries by itself, so the
    // resume point is kept current in it.
    const payload = { query: m.query, variables: m.resume && m.lastSeq !== null ? { ...m.variables, [variable]: m.lastSeq } : { ...m.variables } };
    const resumed = m.started;
    m.stopAttempt = this.ws().subscribe<unknown>(payload, {
      next: (msg) => {
        if (m.stopped) return;
        if (msg.errors && msg.errors.length > 0) {
          this.fail(m, IntercloudError.fromGraphQL(msg.errors as GraphQLErrorShape[]));
          return;
        }
        const data = msg.data as unknown;
        if (m.resume) {
          const seq = m.resume.seqOf(data);
          if (m.lastSeq !== null && seq <= m.lastSeq) return; // already delivered
          m.lastSeq = seq;
          payload.variables = { ...payload.variables, [variable]: seq };
        }
        m.handlers.next(data);
      },
      error: (err) => this.failedAttempt(m, err),
      complete: () => {
        if (m.stopped) return;
        m.stopped = true;
        this.subs.delete(m);
        m.handlers.complete?.();
      },
    });
    const replayed = m.resume !== null && m.lastSeq !== null;
    if (resumed) queueMicrotask(() => !m.stopped && m.handlers.onResubscribed?.(replayed));
    m.started = true;
  }

  private failedAttempt(m: Managed, err: unknown): void {
    if (m.stopped || this.closed) return;
    m.stopAttempt = null;
    if (Array.isArray(err)) {
      // The broker refused the subscription itself (validation, NOT_FOUND, rate limit).
      const e = IntercloudError.fromGraphQL(err as GraphQLErrorShape[]);
      if (e.code === 'RATE_LIMITED') return this.retryLater(m);
      return this.fail(m, e);
    }
    if (isCloseEvent(err) && FATAL_CLOSE.has(err.code)) {
      const code = err.code === CloseCode.Unauthorized ? 'UNAUTHENTICATED' : err.code === CloseCode.Forbidden ? 'FORBIDDEN' : 'BAD_REQUEST';
      return this.fail(m, new IntercloudError(`the broker closed the subscription connection: ${err.code} ${err.reason || ''}`.trim(), code));
    }
    this.retryLater(m);
  }

  /** One timer for everything waiting, so a restart costs one reconnect, not one per subscription. */
  private retryLater(m: Managed): void {
    this.waiting.add(m);
    this.setState('reconnecting');
    if (this.timer) return;
    const { initial, max } = this.o.retryDelayMs ?? { initial: 250, max: 10_000 };
    const base = Math.min(max, initial * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      const batch = [...this.waiting];
      this.waiting.clear();
      for (const w of batch) this.start(w);
    }, delay);
  }

  private fail(m: Managed, e: IntercloudError): void {
    this.stop(m);
    m.handlers.error?.(e);
  }

  private stop(m: Managed): void {
    if (m.stopped) return;
    m.stopped = true;
    this.subs.delete(m);
    this.waiting.delete(m);
    const stopAttempt = m.stopAttempt;
    m.stopAttempt = null;
    stopAttempt?.();
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.o.onStateChange?.(s);
  }
}
