/** Small pieces every page uses: scrollable tables, badges, error notes, page titles. */
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { IntercloudError } from '../../../sdk';

/** A table that scrolls sideways on a narrow screen; focusable so the keyboard can scroll it too. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

const TONE: Record<string, string> = {
  HEALTHY: 'ok',
  DONE: 'ok',
  OK: 'ok',
  ACTIVE: 'ok',
  DEGRADED: 'warn',
  WARNING: 'warn',
  RUNNING: 'info',
  QUEUED: 'info',
  CANCELLING: 'warn',
  FAILING: 'bad',
  UNREACHABLE: 'bad',
  FAILED: 'bad',
  CRITICAL: 'bad',
  CANCELLED: 'muted',
  UNKNOWN: 'muted',
  SCALE_UP: 'warn',
  PREPARE: 'info',
  SCALE_DOWN: 'info',
};

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${TONE[value] ?? 'muted'}`}>{value}</span>;
}

export function ErrorNote({ error, what }: { error: IntercloudError | Error | null; what?: string }) {
  if (!error) return null;
  const code = error instanceof IntercloudError ? ` (${error.code})` : '';
  return (
    <p class="error" role="alert">
      {what ? `${what}: ` : ''}
      {error.message}
      {code}
    </p>
  );
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Intercloud`;
  }, [title]);
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading {what}…
    </p>
  );
}

export const TERMINAL = new Set(['DONE', 'FAILED', 'CANCELLED']);
