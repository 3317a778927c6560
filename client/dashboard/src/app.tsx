/** Layout, sign-in gate and routes. */
import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { onSessionChange, signOut, token, useConnectionState, useQuery } from './api';
import { MeDocument } from '../../sdk';
import { CloneJobPage } from './pages/clone-job';
import { DecisionsPage } from './pages/decisions';
import { OverviewPage } from './pages/overview';
import { SignInPage } from './pages/sign-in';
import { VmTypePage } from './pages/vm-type';

function NotFound() {
  return (
    <section aria-labelledby="nf-title">
      <h1 id="nf-title">Not found</h1>
      <p>
        Nothing here. <a href="/">Back to the overview</a>.
      </p>
    </section>
  );
}

function Header() {
  const me = useQuery(MeDocument, {});
  const state = useConnectionState();
  const { path } = useLocation();
  const live = state === 'connected' ? 'live' : state === 'reconnecting' || state === 'connecting' ? 'reconnecting' : 'idle';
  const link = (href: string, label: string) => (
    <a href={href} aria-current={path === href ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <header class="top">
      <a class="brand" href="/">
        Intercloud
      </a>
      <nav aria-label="Main">
        {link('/', 'Overview')}
        {link('/decisions', 'Decisions')}
      </nav>
      <div class="who">
        <span class={`live live-${live}`} role="status" aria-live="polite">
          {live === 'live' ? 'Live' : live === 'reconnecting' ? 'Reconnecting…' : 'Not streaming'}
        </span>
        {me.data && (
          <span class="me">
            {me.data.me.tenantName} · {me.data.me.role.toLowerCase()}
          </span>
        )}
        <button type="button" class="secondary" onClick={() => signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => token() !== null);
  useEffect(() => onSessionChange(() => setSignedIn(token() !== null)), []);
  return (
    <LocationProvider>
      <a class="skip" href="#main">
        Skip to content
      </a>
      {signedIn ? (
        <>
          <Header />
          <main id="main" tabIndex={-1}>
            <Router>
              <Route path="/" component={OverviewPage} />
              <Route path="/vm-types/:id" component={VmTypePage} />
              <Route path="/jobs/:id" component={CloneJobPage} />
              <Route path="/decisions" component={DecisionsPage} />
              <Route default component={NotFound} />
            </Router>
          </main>
        </>
      ) : (
        <main id="main" tabIndex={-1}>
          <SignInPage />
        </main>
      )}
    </LocationProvider>
  );
}
