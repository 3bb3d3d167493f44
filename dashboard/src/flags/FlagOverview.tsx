// The flag screen's overview (`/flags/:flagSet/:key`): one flag's
// variants, state, metadata and version, with its kill switch.
import { useMutation } from 'urql';

import { ConfirmAction } from '../components/ConfirmAction';
import type { ShownFlag } from './FlagScreen';
import { formatTime, jsonText, metadataOf, variantsOf } from './flagFields';
import { KillSwitchMutation } from './operations';
import { RestoreButton } from './RestoreButton';

export function FlagOverview({ flagSet, flag, writeDenial }: { flagSet: string; flag: ShownFlag; writeDenial: string | null }) {
  const [, killSwitch] = useMutation(KillSwitchMutation);
  const variants = variantsOf(flag.definition);
  const metadata = Object.entries(metadataOf(flag.definition));
  const killDenial =
    writeDenial ??
    (flag.archived ? 'The flag is archived' : flag.state === 'DISABLED' ? 'The flag is already disabled' : null);

  return (
    <>
      {flag.archived && (
        <div className="notice">
          This flag is archived: evaluation no longer serves it.{' '}
          <RestoreButton flagSet={flagSet} flag={flag} denial={writeDenial} />
        </div>
      )}
      <section aria-labelledby="kill-heading" className="panel">
        <h2 id="kill-heading">Kill switch</h2>
        <p>Disables the flag at once, whatever its version: every evaluation answers with the caller’s default.</p>
        <ConfirmAction
          label="Disable now"
          className="danger"
          title={`Disable ${flag.key}?`}
          confirmLabel="Disable flag"
          pendingLabel="Disabling…"
          denial={killDenial}
          run={() => killSwitch({ flagSet, key: flag.key })}
          success={(result) => `Disabled ${result.killSwitch.key} (version ${result.killSwitch.version})`}
        >
          <p>
            <strong>{flag.key}</strong> in flag set <strong>{flagSet}</strong> is switched off for every
            client now. Turning it back on is a change to its definition.
          </p>
        </ConfirmAction>
      </section>
      <section aria-labelledby="details-heading" className="panel">
        <h2 id="details-heading">Details</h2>
        <dl className="details">
          <dt>State</dt>
          <dd>{flag.state}</dd>
          <dt>Default variant</dt>
          <dd>{flag.defaultVariant ?? 'none (the caller’s default)'}</dd>
          <dt>Version</dt>
          <dd>{flag.version}</dd>
          <dt>Updated</dt>
          <dd>
            <time dateTime={flag.updatedAt}>{formatTime(flag.updatedAt)}</time>
          </dd>
          <dt>Visible to client keys</dt>
          <dd>{flag.clientVisible ? 'yes' : 'no'}</dd>
          <dt>Locked</dt>
          <dd>{flag.locked ? 'yes' : 'no'}</dd>
        </dl>
      </section>
      <section aria-labelledby="variants-heading" className="panel">
        <h2 id="variants-heading">Variants</h2>
        {variants.length === 0 ? (
          <p>No variants.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Variant</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {variants.map(([name, value]) => (
                <tr key={name}>
                  <th scope="row">
                    {name}
                    {name === flag.defaultVariant && (
                      <>
                        {' '}
                        <span className="badge">default</span>
                      </>
                    )}
                  </th>
                  <td>
                    <code>{jsonText(value)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="metadata-heading" className="panel">
        <h2 id="metadata-heading">Metadata</h2>
        {metadata.length === 0 ? (
          <p>No metadata.</p>
        ) : (
          <dl className="details">
            {metadata.map(([name, value]) => (
              <div key={name}>
                <dt>{name}</dt>
                <dd>
                  <code>{jsonText(value)}</code>
                </dd>
              </div>
            ))}
          </dl>
        )}
      </section>
    </>
  );
}
