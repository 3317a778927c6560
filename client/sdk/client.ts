/**
 * The typed client of the broker: `request` for queries and mutations over HTTP, `subscribe`
 * for graphql-ws subscriptions that resume after a reconnect (see subscriptions.ts). Operations
 * are the generated documents of ./generated/graphql, so results and variables are typed.
 */
import { IntercloudError } from './errors';
import {
  AuditEventsDocument,
  AuditEventsSubscription,
  CloneJobEventsDocument,
  CloneJobEventsSubscription,
  CloneJobUpdatesDocument,
  CloneJobUpdatesSubscription,
  ScaleDownJobEventsDocument,
  ScaleDownJobEventsSubscription,
  ScalingDecisionsLiveDocument,
  ScalingDecisionsLiveSubscription,
} from './generated/graphql';
import { executeHttp, Operation } from './http';
import { ConnectionState, ResumeOptions, SubscriptionHandlers, SubscriptionTransport } from './subscriptions';

export type CloneJobEvent = CloneJobEventsSubscription['cloneJobEvents'];
export type AuditEvent = AuditEventsSubscription['auditEvents'];
export type ScaleDownJobEvent = ScaleDownJobEventsSubscription['scaleDownJobEvents'];
export type ScalingDecisionEvent = ScalingDecisionsLiveSubscription['scalingDecisions'];
export type CloneJobUpdate = CloneJobUpdatesSubscription['cloneJobUpdates'];

export interface IntercloudClientOptions {
  /** The broker: `http://host:4000`, or its GraphQL URL `http://host:4000/graphql`. */
  url: string;
  /** Bearer token, or a function read on every request and every (re)connection. */
  token: string | null | (() => string | null | undefined);
  fetch?: typeof fetch;
  /** WebSocket implementation for subscriptions (Node 20: `require('ws')`); default the global one. */
  webSocketImpl?: unknown;
  /** Per-request deadline of HTTP operations (default 30 s). */
  timeoutMs?: number;
  retryDelayMs?: { initial: number; max: number };
  keepAliveMs?: number;
  onConnectionStateChange?: (state: ConnectionState) => void;
}

/** `http://h:4000` -> `http://h:4000/graphql`; a URL that already names a path is kept. */
export function graphqlUrl(url: string, base?: string): string {
  const u = new URL(url, base);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/graphql';
  return u.toString();
}

export class IntercloudClient {
  readonly url: string;
  private readonly token: () => string | null | undefined;
  private readonly subscriptions: SubscriptionTransport;

  constructor(private readonly options: IntercloudClientOptions) {
    // In a browser a relative URL ('/graphql') is resolved against the page.
    this.url = graphqlUrl(options.url, (globalThis as { location?: { href: string } }).location?.href);
    const t = options.token;
    this.token = typeof t === 'function' ? t : () => t;
    this.subscriptions = new SubscriptionTransport({
      url: this.url.replace(/^http/, 'ws'),
      token: this.token,
      webSocketImpl: options.webSocketImpl,
      retryDelayMs: options.retryDelayMs,
      keepAliveMs: options.keepAliveMs,
      onStateChange: options.onConnectionStateChange,
    });
  }

  /** A query or mutation; rejects with an IntercloudError. */
  request<TResult, TVariables>(operation: Operation<TResult, TVariables>, ...variables: VariablesArg<TVariables>): Promise<TResult> {
    return executeHttp({ url: this.url, token: this.token, fetch: this.options.fetch, timeoutMs: this.options.timeoutMs }, operation, variables[0]);
  }

  /**
   * A subscription. With `resume`, a reconnect re-subscribes from the last seq delivered, so
   * `next` sees every event once; without it, a reconnect re-subscribes live. Returns unsubscribe.
   */
  subscribe<TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    variables: TVariables,
    handlers: SubscriptionHandlers<TResult>,
    resume?: ResumeOptions<TResult>,
  ): () => void {
    return this.subscriptions.subscribe(operation, variables, handlers, resume);
  }

  /** The same as an async iterator (for-await; `break` unsubscribes). */
  iterate<TResult, TVariables>(operation: Operation<TResult, TVariables>, variables: TVariables, resume?: ResumeOptions<TResult>): AsyncIterableIterator<TResult> {
    return this.subscriptions.iterate(operation, variables, resume);
  }

  /** Every event of one clone job after `afterSeq` (default 0: all of them), resuming across reconnects. */
  cloneJobEvents(jobId: string, handlers: SubscriptionHandlers<CloneJobEvent>, afterSeq = 0): () => void {
    return this.subscribe(
      CloneJobEventsDocument,
      { jobId, afterSeq },
      { ...handlers, next: (d) => handlers.next(d.cloneJobEvents) },
      { seqOf: (d) => d.cloneJobEvents.seq },
    );
  }

  /** Every event of one scale-down job after `afterSeq` (default 0: all of them), resuming across reconnects; completes after the last. */
  scaleDownJobEvents(jobId: string, handlers: SubscriptionHandlers<ScaleDownJobEvent>, afterSeq = 0): () => void {
    return this.subscribe(
      ScaleDownJobEventsDocument,
      { jobId, afterSeq },
      { ...handlers, next: (d) => handlers.next(d.scaleDownJobEvents) },
      { seqOf: (d) => d.scaleDownJobEvents.seq },
    );
  }

  /**
   * Events of every clone job of the tenant, resuming across reconnects from the last updateSeq
   * delivered. With `afterSeq` the stored ones after it come first (0: every stored one); without
   * it, live ones from now on (a reconnect before the first one re-subscribes live).
   */
  cloneJobUpdates(handlers: SubscriptionHandlers<CloneJobUpdate>, options: { afterSeq?: number } = {}): () => void {
    return this.subscribe(
      CloneJobUpdatesDocument,
      { afterSeq: options.afterSeq },
      { ...handlers, next: (d) => handlers.next(d.cloneJobUpdates) },
      // The broker sets updateSeq on every cloneJobUpdates event.
      { seqOf: (d) => d.cloneJobUpdates.updateSeq ?? 0 },
    );
  }

  /**
   * Scaling decisions of the tenant (or of one VM type), resuming across reconnects from the last
   * seq delivered. With `afterSeq` the stored ones after it come first (0: every stored one);
   * without it, live ones from now on (a reconnect before the first one re-subscribes live).
   */
  scalingDecisions(handlers: SubscriptionHandlers<ScalingDecisionEvent>, options: { vmTypeId?: string; afterSeq?: number } = {}): () => void {
    return this.subscribe(
      ScalingDecisionsLiveDocument,
      { vmTypeId: options.vmTypeId, afterSeq: options.afterSeq },
      { ...handlers, next: (d) => handlers.next(d.scalingDecisions) },
      // The broker sets seq on every subscription event (it is null only when read by query).
      { seqOf: (d) => d.scalingDecisions.seq ?? 0 },
    );
  }

  /** The tenant's audit events after `afterSeq`, resuming across reconnects. */
  auditEvents(handlers: SubscriptionHandlers<AuditEvent>, afterSeq = 0): () => void {
    return this.subscribe(
      AuditEventsDocument,
      { afterSeq },
      { ...handlers, next: (d) => handlers.next(d.auditEvents) },
      { seqOf: (d) => d.auditEvents.seq },
    );
  }

  get connectionState(): ConnectionState {
    return this.subscriptions.connectionState;
  }

  /** Ends every subscription and the WebSocket. */
  close(): Promise<void> {
    return this.subscriptions.close();
  }
}

/** Operations whose variables are all optional may be called without them. */
type VariablesArg<TVariables> = Record<string, never> extends TVariables ? [variables?: TVariables] : [variables: TVariables];

export { IntercloudError };
