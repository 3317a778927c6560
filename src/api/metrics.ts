/** Prometheus metrics of one broker instance (its own registry, so several can share a process in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'intercloud_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'intercloud_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    graphqlOperations: new Counter({
      name: 'intercloud_graphql_operations_total',
      help: 'GraphQL operations by type and outcome',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    graphqlDuration: new Histogram({
      name: 'intercloud_graphql_operation_duration_seconds',
      help: 'GraphQL operation duration',
      labelNames: ['type'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    wsConnections: new Gauge({ name: 'intercloud_ws_connections', help: 'Open GraphQL WebSocket connections', registers: [registry] }),
    rateLimited: new Counter({
      name: 'intercloud_rate_limited_total',
      help: 'Requests and executions refused by a rate limit: per token, or per client address for callers without a valid token',
      labelNames: ['limit'] as const,
      registers: [registry],
    }),
    wsClosed: new Counter({
      name: 'intercloud_ws_closed_total',
      help: 'GraphQL WebSocket connections the broker closed, by reason (slow_consumer, token_revoked, too_many_connections, rate_limited)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    subscriptionExecutions: new Counter({
      name: 'intercloud_subscription_executions_total',
      help: 'Executions of a subscription selection set for an event; shared="true": one serves every identical subscriber of this replica',
      labelNames: ['shared'] as const,
      registers: [registry],
    }),
    subscriptionResults: new Counter({
      name: 'intercloud_subscription_results_total',
      help: 'Subscription results handed to subscribers (per subscriber per event); shared="true": from a shared execution',
      labelNames: ['shared'] as const,
      registers: [registry],
    }),
    subscriptionSerialisations: new Counter({
      name: 'intercloud_subscription_serialisations_total',
      help: 'Subscription results serialised to JSON for next frames: one per shared result (however many subscribers it serves), one per result otherwise (WS_BATCHED_FRAMES=on)',
      registers: [registry],
    }),
    schedulerLeader: new Gauge({
      name: 'intercloud_scheduler_leader',
      help: '1 while this replica holds the scheduler leader lock (only the leader runs periodic tasks: health probes, reaper, retention)',
      registers: [registry],
    }),
    periodicTaskRuns: new Counter({
      name: 'intercloud_periodic_task_runs_total',
      help: 'Rounds of periodic tasks run by this replica as leader, by task and outcome',
      labelNames: ['task', 'outcome'] as const,
      registers: [registry],
    }),
    reapedObjects: new Counter({
      name: 'intercloud_reaped_objects_total',
      help: 'Cloud objects tagged by a finished clone job (and not its result) that the reaper deleted, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    prunedRows: new Counter({
      name: 'intercloud_pruned_rows_total',
      help: 'Rows deleted by retention, by table',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    transferLinkBytes: new Counter({
      name: 'intercloud_transfer_link_bytes_total',
      help: 'Chunked TRANSFER: bytes sent over the intercloud link, by job and by the agent that sent them (broker: this process)',
      labelNames: ['job', 'agent'] as const,
      registers: [registry],
    }),
    transferImageBytes: new Counter({
      name: 'intercloud_transfer_image_bytes_total',
      help: 'Chunked TRANSFER: image bytes read and chunked, by job and agent',
      labelNames: ['job', 'agent'] as const,
      registers: [registry],
    }),
    transferZeroBytes: new Counter({
      name: 'intercloud_transfer_zero_bytes_total',
      help: 'Chunked TRANSFER: image bytes in all-zero chunks (sent as markers), by job and agent',
      labelNames: ['job', 'agent'] as const,
      registers: [registry],
    }),
    transferDedupBytes: new Counter({
      name: 'intercloud_transfer_dedup_bytes_total',
      help: "Chunked TRANSFER: image bytes of chunks the target side already held, by job and agent",
      labelNames: ['job', 'agent'] as const,
      registers: [registry],
    }),
    transferSentRawBytes: new Counter({
      name: 'intercloud_transfer_sent_raw_bytes_total',
      help: 'Chunked TRANSFER: image bytes of the chunks sent (divided by link bytes: the compression ratio), by job and agent',
      labelNames: ['job', 'agent'] as const,
      registers: [registry],
    }),
    cloudHealthProbes: new Counter({
      name: 'intercloud_cloud_health_probes_total',
      help: 'Cloud health probes made by this replica, by resulting health (ERROR: the probe could not be made)',
      labelNames: ['health'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
