/** Waiting for something to become true, by polling: the one helper every test uses for it. */

/**
 * Polls `check` every `intervalMs` until it returns a truthy value, which is returned; throws
 * `timed out waiting for <what>` after `timeoutMs` (a hang guard, not a timing assertion).
 */
export async function waitFor<T>(check: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 60_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
