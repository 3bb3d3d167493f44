// A section's address without a flag set (`/`, `/experiments`, …): goes to
// the section of the `default` flag set, or else of the first one.
import { useQuery } from 'urql';
import { Redirect } from 'wouter';

import { failureOf } from '../api/errors';
import { FlagSetsQuery } from '../flags/operations';
import { ErrorNotice } from './ErrorNotice';

export function FlagSetRedirect({ title, pathOf }: { title: string; pathOf: (flagSet: string) => string }) {
  const [{ data, error }] = useQuery({ query: FlagSetsQuery });
  if (error) return <ErrorNotice failure={failureOf(error)} what="The flag sets could not be loaded" />;
  if (!data) return <p role="status">Loading flag sets…</p>;
  const live = data.flagSets.filter((s) => !s.archived);
  const target = live.find((s) => s.key === 'default') ?? live[0];
  if (!target) {
    return (
      <>
        <h1>{title}</h1>
        <p>There are no flag sets yet. An admin creates them (createFlagSet, or importing a flag file).</p>
      </>
    );
  }
  return <Redirect to={pathOf(target.key)} replace />;
}
