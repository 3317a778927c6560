/**
 * One PostgreSQL connection that LISTENs on a channel and keeps doing so: a connection that
 * fails or simply ends is dropped once and replaced with exponential backoff (100 ms to 5 s).
 * Its owner hears when notices may have been missed (onLost) and when LISTEN is back
 * (onReconnected), which is when it should catch up.
 */
import { Client } from 'pg';
import { Logger } from 'pino';

export interface ListenConnectionOptions {
  connectionString: string;
  channel: string;
  /** `application_name` of the connection, and the subject of its log lines. */
  applicationName: string;
  logger: Logger;
  /** A non-empty payload sent on the channel. */
  onNotification(payload: string): void;
  /** The connection was lost: notices may be missed until onReconnected. */
  onLost?(): void;
  /** LISTEN is back after a loss. */
  onReconnected(): void;
}

export class ListenConnection {
  private client: Client | null = null;
  private connected = false;
  private closed = false;
  private reconnectDelayMs = 100;

  constructor(private readonly o: ListenConnectionOptions) {}

  /** The first connection; its failure is the caller's. */
  start(): Promise<void> {
    return this.connect();
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

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.o.connectionString, application_name: this.o.applicationName });
    client.on('notification', (msg) => {
      if (msg.channel === this.o.channel && msg.payload) this.o.onNotification(msg.payload);
    });
    // An unexpected end may come with or without an error first: either way it is handled once.
    const lost = (err: unknown) => {
      if (this.client !== client || this.closed) return;
      this.o.logger.warn({ err, connection: this.o.applicationName }, 'LISTEN connection lost; reconnecting');
      this.connected = false;
      this.client = null;
      this.o.onLost?.();
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.o.channel}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
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
        () => this.o.onReconnected(),
        (err: unknown) => {
          this.o.logger.warn({ err, delay, connection: this.o.applicationName }, 'LISTEN reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay).unref();
  }
}
