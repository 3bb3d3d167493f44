// `/`: goes to the `default` flag set, or else the first one.
import { Redirect } from 'wouter';
import { useQuery } from 'urql';

import { failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { flagSetPath } from '../routing';
import { FlagSetsQuery } from './operations';

export function HomeRedirect() {
  const [{ data, error }] = useQuery({ query: FlagSetsQuery });
  if (error) return <ErrorNotice failure={failureOf(error)} what="The flag sets could not be loaded" />;
  if (!data) return <p role="status">Loading flag sets…</p>;
  const live = data.flagSets.filter((s) => !s.archived);
  const target = live.find((s) => s.key === 'default') ?? live[0];
  if (!target) {
    return (
      <>
        <h1>Flags</h1>
        <p>There are no flag sets yet. An admin creates them (createFlagSet, or importing a flag file).</p>
      </>
    );
  }
  return <Redirect to={flagSetPath(target.key)} replace />;
}
