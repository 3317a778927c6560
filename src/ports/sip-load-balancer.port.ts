/**
 * A SIP load balancer whose destinations live in a MySQL/MariaDB table: Kamailio's dispatcher
 * (`dispatcher`) or OpenSIPS's `load_balancer`, reloaded over JSON-RPC. Every row the broker
 * writes carries a tag (the `description` column) so a retried step finds it instead of adding
 * a second. Implemented by src/adapters/sip-lb.
 */
import { LoadBalancerKind } from '../domain/enums';

export interface SipLoadBalancerConnection {
  kind: LoadBalancerKind;
  db: { host: string; port: number; user: string; password: string; database: string };
  /** Table name (defaults: `dispatcher`, `load_balancer`). */
  table: string;
  /** JSON-RPC endpoint, e.g. http://127.0.0.1:5080/RPC */
  rpcUrl: string;
  /** Reload method (defaults: `dispatcher.reload`, `lb_reload`). */
  reloadMethod: string;
  /** Method listing live destinations, when the balancer has one (Kamailio: `dispatcher.list`). */
  listMethod: string | null;
}

export interface Destination {
  /** Set id (dispatcher) or group id (load_balancer). */
  setId: number;
  /** e.g. sip:127.0.12.10:5070 */
  uri: string;
  /** dispatcher `attrs` or load_balancer `resources`. */
  attrs: string;
  /** The broker's tag, e.g. intercloud_job=<id> vm=<id>. */
  tag: string;
}

/** A destination the running balancer uses. */
export interface LiveDestination {
  /** Set id (dispatcher) or group id (load_balancer); null when the balancer's answer does not say. */
  setId: number | null;
  uri: string;
}

export interface SipLoadBalancer {
  /** Inserts the row unless one with this tag exists (idempotent); parameterised SQL only. */
  addDestination(lb: SipLoadBalancerConnection, d: Destination): Promise<void>;
  /**
   * Deletes the rows with this tag and, when `same` is given, every row of that set with exactly
   * that URI (a destination the operator entered by hand for a VM the broker imported); absent is fine.
   */
  removeDestination(lb: SipLoadBalancerConnection, tag: string, same?: { setId: number; uri: string }): Promise<void>;
  reload(lb: SipLoadBalancerConnection): Promise<void>;
  /** The destinations the running balancer uses now (its list call, or the table where it has none). */
  liveDestinations(lb: SipLoadBalancerConnection): Promise<LiveDestination[]>;
}

/** Whether `live` holds the URI in the set (a destination whose set the balancer did not say counts for any set). */
export function isLive(live: readonly LiveDestination[], setId: number, uri: string): boolean {
  return live.some((d) => d.uri === uri && (d.setId === null || d.setId === setId));
}
