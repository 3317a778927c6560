/**
 * A worker thread of `npm run bench:events`: opens its share of the graphql-ws subscribers and
 * records every frame's seq and arrival (taken in the subscription's `next`, as the frame is
 * handled). With all 500 connections in the publishing thread, a client loop that fell behind
 * added its own lag to every arrival; spread over worker threads, and with each thread's own
 * event-loop delay and utilisation reported, client lag and broker lag can be told apart.
 *
 * Arrival times are absolute (performance.timeOrigin + now()), comparable across threads.
 *
 * Messages from the parent: { type: 'measure' } starts the measured window (resets the
 * event-loop histogram and utilisation), { type: 'report' } answers with the arrivals and the
 * window's loop figures, { type: 'dispose' } closes every client and answers 'disposed'.
 * To the parent, every 100 ms: { type: 'progress', live, received, errors }.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { Client as WsClient, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { wsUrl } from '../support/graphql';

export interface ClientsWorkerData {
  urls: string[];
  adminToken: string;
  subscribers: number;
  perConnection: number;
  /** Connection number of this worker's first connection: connections alternate over `urls` across workers too. */
  firstConnection: number;
  fromSeq: number;
  connectBatch: number;
  replayBatch: number;
}

export interface ClientsReport {
  type: 'report';
  /** seq, arrival (absolute ms) pairs of every frame after fromSeq. */
  arrivals: Float64Array;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Share of the window the thread's event loop was busy (1: it never waited for input). */
  loopUtilisation: number;
}

const AUDIT_EVENTS = 'subscription($afterSeq: Int) { auditEvents(afterSeq: $afterSeq) { seq } }';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(d: ClientsWorkerData): Promise<void> {
  const port = parentPort!;
  const clients: WsClient[] = [];
  let arrivals = new Float64Array(1 << 16);
  let received = 0;
  let live = 0;
  let errors = 0;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let eluStart = performance.eventLoopUtilization();

  const progress = setInterval(() => port.postMessage({ type: 'progress', live, received, errors }), 100);
  port.on('message', (m: { type: string }) => {
    if (m.type === 'measure') {
      loop.reset();
      eluStart = performance.eventLoopUtilization();
    } else if (m.type === 'report') {
      const report: ClientsReport = {
        type: 'report',
        arrivals: arrivals.slice(0, received * 2),
        loopDelayP99Ms: loop.percentile(99) / 1e6,
        loopDelayMaxMs: loop.max / 1e6,
        loopUtilisation: performance.eventLoopUtilization(eluStart).utilization,
      };
      port.postMessage(report);
    } else if (m.type === 'dispose') {
      clearInterval(progress);
      loop.disable();
      void Promise.all(clients.map((c) => Promise.resolve(c.dispose()).catch(() => undefined))).then(() => port.postMessage({ type: 'disposed' }));
    }
  });

  const connections = Math.ceil(d.subscribers / d.perConnection);
  let connected = 0;
  let opened = 0;
  for (let c = 0; c < connections; c++) {
    // A few dozen handshakes in flight at most: a loaded broker that cannot answer
    // connection_init within graphql-ws's 3 s closes the socket (4408).
    // Likewise subscriptions still replaying: each costs the broker a read before it is live.
    while (c - connected >= d.connectBatch || opened - live >= d.replayBatch) await sleep(20);
    const client = createClient({
      url: wsUrl(d.urls[(d.firstConnection + c) % d.urls.length]),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${d.adminToken}` },
      on: { connected: () => void connected++ },
      onNonLazyError: () => undefined,
    });
    clients.push(client);
    for (let s = 0; s < d.perConnection && c * d.perConnection + s < d.subscribers; s++) {
      opened++;
      let seen = false;
      client.subscribe<{ auditEvents: { seq: number } }>(
        { query: AUDIT_EVENTS, variables: { afterSeq: d.fromSeq - 1 } },
        {
          next: (r) => {
            const at = performance.timeOrigin + performance.now();
            const seq = r.data?.auditEvents.seq;
            if (seq === undefined) return;
            if (!seen) {
              seen = true;
              live++;
            }
            if (seq <= d.fromSeq) return;
            if (received * 2 + 2 > arrivals.length) {
              const grown = new Float64Array(arrivals.length * 2);
              grown.set(arrivals);
              arrivals = grown;
            }
            arrivals[received * 2] = seq;
            arrivals[received * 2 + 1] = at;
            received++;
          },
          error: (err) => {
            const e = err as { code?: number; reason?: string; message?: string };
            if (errors++ < 5) console.error(`subscription error: ${e.code ?? ''} ${e.reason ?? e.message ?? JSON.stringify(err)}`);
          },
          complete: () => undefined,
        },
      );
    }
  }
}

void main(workerData as ClientsWorkerData);
