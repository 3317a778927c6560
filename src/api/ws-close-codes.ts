/**
 * Close codes the broker's WebSocket endpoint uses beyond graphql-ws's own (4400 bad request,
 * 4401 no token in connection_init, 4403 refused token, 4408 no connection_init in time, ...).
 * Documented in the README; clients decide by code whether to reconnect.
 */
export const WsCloseCode = {
  /** The token was revoked (or deleted) while connected: live subscriptions end, nothing more runs. Same as a refused token. */
  TokenRevoked: 4403,
  /**
   * The client did not read fast enough: more than WS_MAX_BUFFERED_BYTES waited to be sent.
   * Reconnect and resume with `afterSeq`; graphql-ws clients retry 4xxx codes they do not know.
   */
  SlowConsumer: 4413,
  /** Too many connections from one address, or its anonymous budget is spent: try again later (standard 1013, retried by graphql-ws clients). */
  TryAgainLater: 1013,
} as const;
