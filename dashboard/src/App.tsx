// The app's screens by URL; everything but sign-in needs a session.
import { lazy } from 'react';
import { Provider } from 'urql';
import { Link, Redirect, Route, Switch, useLocation, useSearch } from 'wouter';

import { AUDIT_PATH } from './audit/path';
import { useSession } from './auth/SessionProvider';
import { SignInScreen } from './auth/SignInScreen';
import { ViewerGate } from './auth/ViewerGate';
import { ToastProvider } from './components/Toasts';
import { FlagOverview } from './flags/FlagOverview';
import { FlagsScreen } from './flags/FlagsScreen';
import { HomeRedirect } from './flags/HomeRedirect';
import { Layout } from './Layout';
import { SIGN_IN_PATH, signInPath } from './routing';

// Screens beyond the flag list load when first shown.
const AuditLog = lazy(() => import('./audit/AuditLog').then((m) => ({ default: m.AuditLog })));
const FlagDebugger = lazy(() => import('./debugger/FlagDebugger').then((m) => ({ default: m.FlagDebugger })));
const FlagHistory = lazy(() => import('./history/FlagHistory').then((m) => ({ default: m.FlagHistory })));

export function App() {
  return (
    <ToastProvider>
      <Switch>
        <Route path={SIGN_IN_PATH}>
          <SignInScreen />
        </Route>
        <Route>
          <SignedIn />
        </Route>
      </Switch>
    </ToastProvider>
  );
}

function SignedIn() {
  const { client } = useSession();
  const [location] = useLocation();
  const search = useSearch();
  if (!client) {
    return <Redirect to={signInPath(location + (search ? `?${search}` : ''))} replace />;
  }
  return (
    <Provider value={client}>
      <ViewerGate>
        <Layout>
          <Switch>
            <Route path="/">
              <HomeRedirect />
            </Route>
            <Route path="/flags/:flagSet">
              <FlagsScreen />
            </Route>
            <Route path="/flags/:flagSet/:key">
              <FlagOverview />
            </Route>
            <Route path="/flags/:flagSet/:key/history">
              <FlagHistory />
            </Route>
            <Route path="/flags/:flagSet/:key/debug">
              <FlagDebugger />
            </Route>
            <Route path={AUDIT_PATH}>
              <AuditLog />
            </Route>
            <Route>
              <h1>Not found</h1>
              <p>
                Nothing is at this address. <Link href="/">Go to the flags</Link>.
              </p>
            </Route>
          </Switch>
        </Layout>
      </ViewerGate>
    </Provider>
  );
}
