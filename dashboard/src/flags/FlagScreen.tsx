// `/flags/:flagSet/:key[/:tab]`: one flag, its header and live notice, and
// its tabs (tabs.ts), each at its own path: the overview, the rollout
// slider, the targeting editor, the rule builder, the history and the
// evaluation debugger. The edits in progress live here, so moving between
// tabs (the builder hands its rule to the editor) keeps them. Every tab but
// the overview loads on demand.
import { Suspense, lazy, useState } from 'react';
import { useQuery } from 'urql';
import { Link, useParams } from 'wouter';

import { failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import type { RolloutDraft, TargetingDraft } from '../editing/edit';
import type { FlagOverviewQuery as FlagOverviewData } from '../gql/graphql';
import { decodeParam, flagSetPath, flagTabPath } from '../routing';
import { FlagTabs } from './FlagTabs';
import { FlagOverview } from './FlagOverview';
import { LiveNotice } from './LiveNotice';
import { FlagOverviewQuery } from './operations';
import { FLAG_TABS } from './tabs';
import { useOthersChanges } from './useOthersChanges';
import { useWriteDenial } from './useWriteDenial';
import '../editing/editing.css';

/** The flag as the flag screen reads it. */
export type ShownFlag = FlagOverviewData['flag'];

const RolloutTab = lazy(() => import('../rollout/RolloutTab').then((m) => ({ default: m.RolloutTab })));
const TargetingTab = lazy(() => import('../targeting/TargetingTab').then((m) => ({ default: m.TargetingTab })));
const BuilderTab = lazy(() => import('../targeting/BuilderTab').then((m) => ({ default: m.BuilderTab })));
const FlagHistory = lazy(() => import('../history/FlagHistory').then((m) => ({ default: m.FlagHistory })));
const FlagDebugger = lazy(() => import('../debugger/FlagDebugger').then((m) => ({ default: m.FlagDebugger })));

export function FlagScreen() {
  const params = useParams<{ flagSet: string; key: string; tab?: string }>();
  const flagSet = decodeParam(params.flagSet);
  const key = decodeParam(params.key);
  return <Screen key={`${flagSet}\n${key}`} flagSet={flagSet} flagKey={key} tab={params.tab} />;
}

function Screen({ flagSet, flagKey, tab }: { flagSet: string; flagKey: string; tab: string | undefined }) {
  const [{ data, error, fetching }, refetch] = useQuery({
    query: FlagOverviewQuery,
    variables: { flagSet, key: flagKey },
  });
  const changes = useOthersChanges(flagSet, flagKey);
  const writeDenial = useWriteDenial(flagSet);
  const [targetingDraft, setTargetingDraft] = useState<TargetingDraft | null>(null);
  const [rolloutDraft, setRolloutDraft] = useState<RolloutDraft | null>(null);
  // Counts the user's refreshes, so a tab with data of its own (the
  // history) loads it again with the flag.
  const [refreshes, setRefreshes] = useState(0);
  const back = (
    <p>
      <Link href={flagSetPath(flagSet)}>← Flags of {flagSet}</Link>
    </p>
  );

  if (error && !data) {
    return (
      <>
        {back}
        <h1>{flagKey}</h1>
        <ErrorNotice failure={failureOf(error)} what="The flag could not be loaded" />
      </>
    );
  }
  if (!data) {
    return (
      <>
        {back}
        <h1>{flagKey}</h1>
        <p role="status">Loading…</p>
      </>
    );
  }
  const flag = data.flag;
  // An edit of an archived flag would restore it: it is restored first, on its own.
  const editDenial = writeDenial ?? (flag.archived ? 'The flag is archived' : null);
  const known = FLAG_TABS.some((t) => t.tab === tab);

  return (
    <>
      {back}
      <div className="screen-head">
        <h1>{flag.key}</h1>
        <span className={`state state-${flag.state.toLowerCase()}`}>{flag.state}</span>
        {flag.archived && <span className="badge">archived</span>}
        {fetching && <span role="status">Refreshing…</span>}
      </div>
      <LiveNotice
        changes={changes}
        onRefresh={() => {
          refetch({ requestPolicy: 'network-only' });
          setRefreshes((n) => n + 1);
        }}
        subject="this flag"
      />
      <FlagTabs flagSet={flagSet} flagKey={flagKey} current={tab} />
      {!known && (
        <p>
          This flag has no tab “{tab}”. <Link href={flagTabPath(flagSet, flagKey)}>Go to its overview</Link>.
        </p>
      )}
      {tab === undefined && <FlagOverview flagSet={flagSet} flag={flag} writeDenial={writeDenial} />}
      <Suspense fallback={<p role="status">Loading…</p>}>
        {tab === 'rollout' && (
          <RolloutTab flagSet={flagSet} flag={flag} denial={editDenial} draft={rolloutDraft} setDraft={setRolloutDraft} />
        )}
        {tab === 'targeting' && (
          <TargetingTab flagSet={flagSet} flag={flag} denial={editDenial} draft={targetingDraft} setDraft={setTargetingDraft} />
        )}
        {tab === 'builder' && (
          <BuilderTab flagSet={flagSet} flag={flag} denial={editDenial} draft={targetingDraft} setDraft={setTargetingDraft} />
        )}
        {tab === 'history' && <FlagHistory flagSet={flagSet} flag={flag} writeDenial={writeDenial} refreshes={refreshes} />}
        {tab === 'debug' && <FlagDebugger flagSet={flagSet} flagKey={flagKey} />}
      </Suspense>
    </>
  );
}
