/**
 * TokenRevocations on PostgreSQL NOTIFY: `announce` notifies in the revoking transaction, so the
 * notice goes out exactly when the revocation is visible to every replica's next read. Each
 * replica LISTENs on a connection of its own; while that connection is down it reports not
 * listening (callers stop caching), and after it is back it tells its listeners that anything
 * may have been missed.
 */
import { Client } from 'pg';
import { Logger } from 'pino';
import { EntityManager } from 'typeorm';
import { RevocationListener, TokenRevocations } from '../../ports/token-revocations.port';

const CHANNEL = 'intercloud_token_revocations';

/** The ids in a notice; a stray NOTIFY on the channel yields none. */
function parseIds(payload: string): string[] {
  try {
    const value: unknown = JSON.parse(payload);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

export class PostgresTokenRevocations implements TokenRevocations {
  private readonly listeners = new Set<RevocationListener>();
  private client: Client | null = null;
  private connected = false;
  private closed = false;
  private reconnectDelayMs = 100;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async announce(tx: EntityManager, tokenIds: readonly string[]): Promise<void> {
    if (tokenIds.length === 0) return;
    await tx.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(tokenIds)]);
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isListening(): boolean {
    return this.connected;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connected = false;
    const client = this.client;
    this.client = null; // before end(), so its 'end' is not taken for a lost connection
    await client?.end().catch(() => undefined);
  }

  private emit(ids: readonly string[] | null): void {
    for (const listener of this.listeners) {
      try {
        listener(ids);
      } catch (err) {
        this.logger.error({ err }, 'a token revocation listener failed');
      }
    }
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.connectionString, application_name: 'intercloud-token-revocations' });
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      const ids = parseIds(msg.payload);
      if (ids.length > 0) this.emit(ids);
    });
    // An unexpected end may come with or without an error first: either way it is handled once.
    const lost = (err: unknown) => {
      if (this.client !== client) return;
      this.logger.warn({ err }, 'token revocation listener connection lost; reconnecting');
      this.connected = false;
      this.client = null;
      // Revocations may be missed from now until the LISTEN is back: nothing cached may be trusted.
      this.emit(null);
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
    this.connected = true;
    this.reconnectDelayMs = 100;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 5000);
    setTimeout(() => {
      if (this.closed) return;
      this.connect().then(
        () => this.emit(null),
        (err: unknown) => {
          this.logger.warn({ err, delay }, 'token revocation listener reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay).unref();
  }
}
