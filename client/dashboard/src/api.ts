/**
 * The dashboard's one client of the broker. The token lives in sessionStorage (gone when the tab
 * closes) and goes out as a bearer header; there is no cookie, so nothing for another site to
 * forge a request with.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ConnectionState, IntercloudClient, IntercloudError, MeDocument, Operation } from '../../sdk';

const TOKEN_KEY = 'intercloud.token';

type Listener = () => void;
const listeners = new Set<Listener>();
let client: IntercloudClient | null = null;
let connection: ConnectionState = 'idle';

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

function changed(): void {
  for (const l of [...listeners]) l();
}

export function api(): IntercloudClient {
  if (!client) {
    client = new IntercloudClient({
      url: '/graphql',
      token: () => sessionStorage.getItem(TOKEN_KEY),
      onConnectionStateChange: (s) => {
        connection = s;
        changed();
      },
    });
  }
  return client;
}

export function connectionState(): ConnectionState {
  return connection;
}

/** Checks the token with the broker before keeping it. */
export async function signIn(secret: string): Promise<void> {
  const probe = new IntercloudClient({ url: '/graphql', token: secret });
  await probe.request(MeDocument);
  sessionStorage.setItem(TOKEN_KEY, secret);
  changed();
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  const c = client;
  client = null;
  void c?.close();
  changed();
}

/** A refused token ends the session (the sign-in page says why). */
export let signOutReason: string | null = null;
function handleAuth(err: unknown): void {
  if (err instanceof IntercloudError && err.code === 'UNAUTHENTICATED') {
    signOutReason = 'The broker no longer accepts this token; sign in again.';
    signOut();
  }
}

export interface QueryState<T> {
  data: T | null;
  error: IntercloudError | null;
  loading: boolean;
  refetch: () => void;
}

/** Runs a query when `key` changes (and on refetch); keeps the last data while reloading. */
export function useQuery<TResult, TVariables>(op: Operation<TResult, TVariables>, variables: TVariables | null, key: unknown[] = []): QueryState<TResult> {
  const [state, setState] = useState<{ data: TResult | null; error: IntercloudError | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const vars = useRef(variables);
  vars.current = variables;
  useEffect(() => {
    if (vars.current === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    (api().request as (o: Operation<TResult, TVariables>, v: TVariables) => Promise<TResult>)(op, vars.current).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) => {
        handleAuth(error);
        if (live) setState((s) => ({ ...s, error: error as IntercloudError, loading: false }));
      },
    );
    return () => {
      live = false;
    };
  }, [...key, tick]);
  return { ...state, refetch: () => setTick((t) => t + 1) };
}

/** Re-renders on connection state changes (for the live indicator). */
export function useConnectionState(): ConnectionState {
  const [s, set] = useState(connection);
  useEffect(() => onSessionChange(() => set(connection)), []);
  return s;
}

export { handleAuth };
