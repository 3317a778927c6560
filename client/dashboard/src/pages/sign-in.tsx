/** Sign-in with an API token; it is checked with the broker, then kept in sessionStorage. */
import { useState } from 'preact/hooks';
import { IntercloudError } from '../../../sdk';
import { signIn, signOutReason } from '../api';

export function SignInPage() {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(signOutReason);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(secret.trim());
    } catch (err) {
      setError(err instanceof IntercloudError && err.isAuth ? 'The broker does not accept this token.' : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Intercloud broker</h1>
      <p>Sign in with an API token. It stays in this browser tab only and is sent with each request as a bearer token.</p>
      <form onSubmit={submit} noValidate>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={secret}
          onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'token-error' : undefined}
        />
        {error && (
          <p id="token-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || secret.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
