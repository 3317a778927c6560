/**
 * TokenRevocations on PostgreSQL NOTIFY: `announce` notifies in the revoking transaction, so the
 * notice goes out exactly when the revocation is visible to every replica's next read. Each
 * replica LISTENs on a connection of its own; while that connection is down it reports not
 * listening (callers stop caching), and after it is back it tells its listeners that anything
 * may have been missed.
 */
import { Logger } from 'pino';
import { EntityManager } from 'typeorm';
import { RevocationListener, TokenRevocations } from '../../ports/token-revocations.port';
import { ListenConnection } from './listen-connection';

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
  private readonly connection: ListenConnection;

  constructor(connectionString: string, private readonly logger: Logger) {
    this.connection = new ListenConnection({
      connectionString,
      channel: CHANNEL,
      applicationName: 'intercloud-token-revocations',
      logger,
      onNotification: (payload) => {
        const ids = parseIds(payload);
        if (ids.length > 0) this.emit(ids);
      },
      // Revocations may be missed from the loss until LISTEN is back: nothing cached may be trusted.
      onLost: () => this.emit(null),
      onReconnected: () => this.emit(null),
    });
  }

  start(): Promise<void> {
    return this.connection.start();
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
    return this.connection.isListening();
  }

  close(): Promise<void> {
    return this.connection.close();
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
}
