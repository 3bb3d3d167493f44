// The app's screens by URL; everything but sign-in needs a session.
import { lazy } from 'react';
import { Provider } from 'urql';
import { Link, Redirect, Route, Switch, useLocation, useSearch } from 'wouter';

import { AUDIT_PATH } from './audit/path';
import { useSession } from './auth/SessionProvider';
import { SignInScreen } from './auth/SignInScreen';
import { ViewerGate } from './auth/ViewerGate';
import { FlagSetRedirect } from './components/FlagSetRedirect';
import { ToastProvider } from './components/Toasts';
import { FlagScreen } from './flags/FlagScreen';
import { FlagsScreen } from './flags/FlagsScreen';
import { Layout } from './Layout';
import {
  ALERTS_PATH,
  COMPARE_PATH,
  EXPERIMENTS_PATH,
  KEYS_PATH,
  NEW_EXPERIMENT_PATH,
  NEW_FLAG_PATH,
  NEW_ROLLOUT_PATH,
  NEW_SEGMENT_PATH,
  ROLLOUTS_PATH,
  SEGMENTS_PATH,
  SIGN_IN_PATH,
  USAGE_PATH,
  experimentsPath,
  flagSetPath,
  rolloutsPath,
  segmentsPath,
  signInPath,
  usagePath,
} from './routing';

// Every screen but the flag list loads when first shown (the flag screen
// loads its tabs so), keeping the first screen's JavaScript small.
const AuditLog = lazy(() => import('./audit/AuditLog').then((m) => ({ default: m.AuditLog })));
const NewFlagScreen = lazy(() => import('./flags/NewFlagScreen').then((m) => ({ default: m.NewFlagScreen })));
const SegmentsScreen = lazy(() => import('./segments/SegmentsScreen').then((m) => ({ default: m.SegmentsScreen })));
const SegmentScreen = lazy(() => import('./segments/SegmentScreen').then((m) => ({ default: m.SegmentScreen })));
const NewSegmentScreen = lazy(() => import('./segments/NewSegmentScreen').then((m) => ({ default: m.NewSegmentScreen })));
const KeysScreen = lazy(() => import('./keys/KeysScreen').then((m) => ({ default: m.KeysScreen })));
const UsageScreen = lazy(() => import('./usage/UsageScreen').then((m) => ({ default: m.UsageScreen })));
const ExperimentsScreen = lazy(() => import('./experiments/ExperimentsScreen').then((m) => ({ default: m.ExperimentsScreen })));
const ExperimentScreen = lazy(() => import('./experiments/ExperimentScreen').then((m) => ({ default: m.ExperimentScreen })));
const NewExperimentScreen = lazy(() =>
  import('./experiments/NewExperimentScreen').then((m) => ({ default: m.NewExperimentScreen })),
);
const RolloutsScreen = lazy(() => import('./rollouts/RolloutsScreen').then((m) => ({ default: m.RolloutsScreen })));
const RolloutScreen = lazy(() => import('./rollouts/RolloutScreen').then((m) => ({ default: m.RolloutScreen })));
const NewRolloutScreen = lazy(() => import('./rollouts/NewRolloutScreen').then((m) => ({ default: m.NewRolloutScreen })));
const AlertsScreen = lazy(() => import('./alerts/AlertsScreen').then((m) => ({ default: m.AlertsScreen })));
const CompareScreen = lazy(() => import('./compare/CompareScreen').then((m) => ({ default: m.CompareScreen })));

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
              <FlagSetRedirect title="Flags" pathOf={flagSetPath} />
            </Route>
            <Route path="/flags/:flagSet">
              <FlagsScreen />
            </Route>
            <Route path="/flags/:flagSet/:key/:tab?">
              <FlagScreen />
            </Route>
            <Route path={`${NEW_FLAG_PATH}/:flagSet`}>
              <NewFlagScreen />
            </Route>
            <Route path={EXPERIMENTS_PATH}>
              <FlagSetRedirect title="Experiments" pathOf={experimentsPath} />
            </Route>
            <Route path={`${EXPERIMENTS_PATH}/:flagSet`}>
              <ExperimentsScreen />
            </Route>
            <Route path={`${EXPERIMENTS_PATH}/:flagSet/:key`}>
              <ExperimentScreen />
            </Route>
            <Route path={`${NEW_EXPERIMENT_PATH}/:flagSet`}>
              <NewExperimentScreen />
            </Route>
            <Route path={AUDIT_PATH}>
              <AuditLog />
            </Route>
            <Route path={SEGMENTS_PATH}>
              <FlagSetRedirect title="Segments" pathOf={segmentsPath} />
            </Route>
            <Route path={`${SEGMENTS_PATH}/:flagSet`}>
              <SegmentsScreen />
            </Route>
            <Route path={`${SEGMENTS_PATH}/:flagSet/:key`}>
              <SegmentScreen />
            </Route>
            <Route path={`${NEW_SEGMENT_PATH}/:flagSet`}>
              <NewSegmentScreen />
            </Route>
            <Route path={USAGE_PATH}>
              <FlagSetRedirect title="Flag usage" pathOf={usagePath} />
            </Route>
            <Route path={`${USAGE_PATH}/:flagSet`}>
              <UsageScreen />
            </Route>
            <Route path={KEYS_PATH}>
              <KeysScreen />
            </Route>
            <Route path={ROLLOUTS_PATH}>
              <FlagSetRedirect title="Rollouts" pathOf={rolloutsPath} />
            </Route>
            <Route path={`${ROLLOUTS_PATH}/:flagSet`}>
              <RolloutsScreen />
            </Route>
            <Route path={`${ROLLOUTS_PATH}/:flagSet/:id`}>
              <RolloutScreen />
            </Route>
            <Route path={`${NEW_ROLLOUT_PATH}/:flagSet`}>
              <NewRolloutScreen />
            </Route>
            <Route path={ALERTS_PATH}>
              <AlertsScreen />
            </Route>
            <Route path={COMPARE_PATH}>
              <CompareScreen />
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
