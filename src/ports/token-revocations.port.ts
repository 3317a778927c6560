/**
 * Tells every broker replica that API tokens stopped authenticating, so each drops what it cached
 * about them at once instead of when the cache entry would have expired.
 */
import { EntityManager } from 'typeorm';

/** Revoked token ids, or `null`: announcements may have been missed (drop everything cached). */
export type RevocationListener = (tokenIds: readonly string[] | null) => void;

export interface TokenRevocations {
  /** Announces that these tokens no longer authenticate, to every replica (this one too) once `tx` commits. */
  announce(tx: EntityManager, tokenIds: readonly string[]): Promise<void>;
  /** Registers a listener; returns its removal. */
  subscribe(listener: RevocationListener): () => void;
  /** True while announcements arrive: a replica must not trust its token cache otherwise. */
  isListening(): boolean;
  close(): Promise<void>;
}
