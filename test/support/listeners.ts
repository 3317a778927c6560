/**
 * Plain loopback listeners that play a hostile or broken endpoint for the security tests: one that
 * records every request, one that answers with whatever it is told, one that accepts and never
 * answers, one that resets every connection, and a port nothing listens on.
 */
import http from 'node:http';
import net from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Listener {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
}

export interface RecordingListener extends Listener {
  requests: RecordedRequest[];
  /** Everything received (request lines, headers, bodies), to search for a secret. */
  everything(): string;
}

type Answer = (req: RecordedRequest, res: http.ServerResponse) => void;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

function tracked(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

/** An HTTP server that records every request and answers with `answer` (default: 401 in Keystone's JSON). */
export async function startRecordingListener(answer?: Answer): Promise<RecordingListener> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(recorded);
      if (answer) return answer(recorded, res);
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }));
    });
  });
  const sockets = tracked(server);
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    everything: () => requests.map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`).join('\n'),
    close: closer(server, sockets),
  };
}

/** Accepts connections and never answers (a black hole behind a firewall that lets the SYN through). */
export async function startBlackHole(): Promise<Listener> {
  const server = net.createServer(() => undefined);
  const sockets = tracked(server);
  const port = await listen(server);
  return { port, url: `http://127.0.0.1:${port}`, close: closer(server, sockets) };
}

/** Accepts each connection and resets it at once. */
export async function startResettingListener(): Promise<Listener> {
  const server = net.createServer((socket) => socket.resetAndDestroy());
  const sockets = tracked(server);
  const port = await listen(server);
  return { port, url: `http://127.0.0.1:${port}`, close: closer(server, sockets) };
}

/** A loopback port that was just free and is closed again: connecting is refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
