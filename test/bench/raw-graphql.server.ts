/**
 * The baseline of `npm run bench:api`: the smallest honest GraphQL-over-HTTP server, graphql-js
 * on node:http, answering `{ me { role } }` from a one-type schema. Every request is parsed,
 * validated and executed (no caching), and the bearer header is required but not looked up.
 * Run as its own process, as the broker is; prints `listening on <url>`.
 */
import http from 'node:http';
import { buildSchema, graphql } from 'graphql';

const schema = buildSchema('type Me { role: String! } type Query { me: Me! }');
const rootValue = { me: () => ({ role: 'ADMIN' }) };

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/graphql') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) return reply(401, { errors: [{ message: 'unauthenticated' }] });
    let body: { query?: string; variables?: Record<string, unknown> };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return reply(400, { errors: [{ message: 'malformed body' }] });
    }
    graphql({ schema, source: body.query ?? '', rootValue, variableValues: body.variables }).then(
      (result) => reply(200, result),
      (err: unknown) => reply(500, { errors: [{ message: String(err) }] }),
    );
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`listening on http://127.0.0.1:${port}/graphql\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
