/**
 * Subscriptions that share one execution per event. graphql-js runs a subscription's selection
 * set once per subscriber per event; with a thousand subscribers on one stream that execution,
 * not the database, bounds delivery. Here a subscriber whose result can only depend on the event,
 * the document, the operation and the variables shares the result of the first identical
 * subscriber that executed for that event: one execution per event and distinct subscription,
 * however many subscribers there are.
 *
 * What makes sharing safe:
 * - Every subscriber still runs its own `subscribe` (createSourceEventStream): authentication,
 *   permission checks, the tenant's stream and filters stay per subscriber, so an event reaches
 *   only the subscribers whose own source stream yielded it. Sharing happens after that.
 * - A document is shared only if every field it selects is a root subscription field or a field
 *   of SHARED_RESULT_TYPES, whose fields read nothing but the event (no field resolver, nothing
 *   from the context). Any other selection (a future field that reads the caller, an
 *   introspection field) executes per subscriber, as before.
 * - The key also carries the caller's tenant and role, so even a mistake in that list could
 *   not hand one tenant's or role's result to another.
 *
 * The memo is a WeakMap keyed by the event object the bus offered (the same object for every
 * local subscriber of the stream; replayed rows are distinct objects and simply do not share):
 * it is dropped once the last subscriber has let go of the event, and per event it holds at most
 * one entry per distinct subscription on this replica (bounded by the WebSocket limits).
 */
import {
  createSourceEventStream,
  DocumentNode,
  execute,
  ExecutionArgs,
  ExecutionResult,
  GraphQLSchema,
  Kind,
  print,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { ApiContext } from './context';

/** Root subscription fields whose resolver maps the event alone (no context, no lookups). */
export const SHARED_ROOT_FIELDS: ReadonlySet<string> = new Set(['auditEvents', 'cloneJobEvents', 'cloneJobUpdates', 'scaleDownJobEvents', 'scalingDecisions']);

/** Payload types whose every field is a plain property of the mapped event (test/api/shared-subscriptions.test.ts keeps this true). */
export const SHARED_RESULT_TYPES: ReadonlySet<string> = new Set(['AuditEvent', 'CloneJobEvent', 'ScaleDownJobEvent', 'ScalingDecision']);

type Executed = ExecutionResult | Promise<ExecutionResult>;

export interface SharedSubscriptionCounters {
  /** One execution of a selection set for an event; `shared`: its result serves every identical subscriber. */
  executed(shared: boolean): void;
  /** A result handed to a subscription, executed or taken from the memo. */
  delivered(shared: boolean): void;
}

export interface SharedSubscribe {
  (args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult>;
  /** The document's share key without the caller (null: it executes per subscriber). Exposed for tests. */
  documentKey(schema: GraphQLSchema, document: DocumentNode): string | null;
}

/**
 * graphql-js's `subscribe`, with the per-event execution memoised as described above.
 * `enabled: false` executes per subscriber (the baseline `npm run bench:events` measures against).
 */
export function sharedSubscribe(enabled: boolean, counters: SharedSubscriptionCounters): SharedSubscribe {
  const memo = new WeakMap<object, Map<string, Executed>>();
  const documentKeys = new WeakMap<DocumentNode, string | null>();

  function documentKey(schema: GraphQLSchema, document: DocumentNode): string | null {
    const known = documentKeys.get(document);
    if (known !== undefined) return known;
    const subscriptionType = schema.getSubscriptionType();
    const typeInfo = new TypeInfo(schema);
    let shareable = subscriptionType !== null && subscriptionType !== undefined;
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        [Kind.FIELD]: (node) => {
          const parent = typeInfo.getParentType();
          if (node.name.value === '__typename') return;
          const ok = parent === subscriptionType ? SHARED_ROOT_FIELDS.has(node.name.value) : parent != null && SHARED_RESULT_TYPES.has(parent.name);
          if (!ok) shareable = false;
        },
      }),
    );
    const key = shareable ? print(document) : null;
    documentKeys.set(document, key);
    return key;
  }

  const subscribe = async (args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const principal = (args.contextValue as ApiContext | undefined)?.principal;
    const docKey = enabled && principal ? documentKey(args.schema, args.document) : null;
    // Variables as sent: identical ones share; differently ordered ones merely do not.
    const key = docKey === null ? null : JSON.stringify([principal!.tenantId, principal!.role, args.operationName ?? null, args.variableValues ?? null, docKey]);
    const executeFor = (event: unknown): Executed => {
      if (key === null || typeof event !== 'object' || event === null) {
        counters.executed(false);
        counters.delivered(false);
        return execute({ ...args, rootValue: event });
      }
      let perEvent = memo.get(event);
      if (!perEvent) memo.set(event, (perEvent = new Map()));
      let result = perEvent.get(key);
      if (!result) {
        counters.executed(true);
        result = execute({ ...args, rootValue: event });
        perEvent.set(key, result);
      }
      counters.delivered(true);
      return result;
    };
    return mapEvents(source[Symbol.asyncIterator](), executeFor);
  };
  return Object.assign(subscribe, { documentKey });
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/**
 * The source's events mapped to results, as graphql-js's own mapAsyncIterator does it: `return`
 * reaches the source at once (an async generator function would only see it after the next
 * event), so a closed subscription lets go of its stream immediately.
 */
function mapEvents(source: AsyncIterator<unknown>, map: (event: unknown) => Executed): AsyncGenerator<ExecutionResult> {
  const mapped = async (r: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult>> => {
    if (r.done) return { done: true, value: undefined };
    try {
      return { done: false, value: await map(r.value) };
    } catch (err) {
      await source.return?.().catch(() => undefined);
      throw err;
    }
  };
  const iterator: AsyncGenerator<ExecutionResult> = {
    next: async () => mapped(await source.next()),
    return: async () => (source.return ? mapped(await source.return()) : { done: true, value: undefined }),
    throw: async (err: unknown) => {
      if (source.throw) return mapped(await source.throw(err));
      throw err;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
    [Symbol.asyncDispose]: async () => {
      await iterator.return(undefined);
    },
  };
  return iterator;
}
