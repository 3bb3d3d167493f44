// `/alerts[?flagSet=…]`: how delivery to each configured webhook stands (a
// failing one marked, with since when, the attempts and the last error),
// then the alerts newest first, page by page: each with its severity, its
// reasons, the server's message, when and by whom, links to what it is
// about, and where it stands with each webhook.
import { useCallback } from 'react';
import { useClient, useQuery } from 'urql';
import { Link, useLocation, useSearch } from 'wouter';

import { failureOf } from '../api/errors';
import { ErrorNotice } from '../components/ErrorNotice';
import { LoadMore } from '../components/LoadMore';
import { type LoadPage, useCursorPages } from '../components/useCursorPages';
import { formatTime } from '../flags/flagFields';
import { FlagSetsQuery } from '../flags/operations';
import type { WebhooksQuery as WebhooksData } from '../gql/graphql';
import { countText, relativeTime } from '../rollouts/format';
import { alertsPath } from '../routing';
import { DELIVERY_LABEL, SEVERITY_LABEL, type ShownAlert, alertTitle, subjectLinks } from './alertText';
import { AlertsQuery, WebhooksQuery } from './operations';
import './alerts.css';

/** Alerts per page (the server allows 1 to 100). */
export const ALERTS_PAGE_SIZE = 25;

export function AlertsScreen() {
  const search = useSearch();
  const flagSet = new URLSearchParams(search).get('flagSet') ?? '';
  return <Alerts key={flagSet} flagSet={flagSet} />;
}

function Alerts({ flagSet }: { flagSet: string }) {
  const client = useClient();
  const [webhooks, refetchWebhooks] = useQuery({ query: WebhooksQuery, requestPolicy: 'cache-and-network' });
  const load = useCallback<LoadPage<ShownAlert>>(
    async (beforeId) => {
      const result = await client
        .query(
          AlertsQuery,
          { first: ALERTS_PAGE_SIZE, beforeId, flagSet: flagSet === '' ? null : flagSet },
          { requestPolicy: 'network-only' },
        )
        .toPromise();
      if (result.data) {
        const { items, next } = result.data.alerts;
        return { items, next: next ?? null };
      }
      return {
        failure: result.error ? failureOf(result.error) : { message: 'the server sent no alerts', code: 'EMPTY_ANSWER' },
      };
    },
    [client, flagSet],
  );
  const pages = useCursorPages(flagSet, load);
  const { reload } = pages;
  const refresh = useCallback(() => {
    reload();
    refetchWebhooks({ requestPolicy: 'network-only' });
  }, [reload, refetchWebhooks]);

  return (
    <>
      <div className="screen-head">
        <h1>Alerts</h1>
        <FlagSetFilter flagSet={flagSet} />
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </div>
      <section className="panel" aria-labelledby="webhooks-heading">
        <h2 id="webhooks-heading">Webhooks</h2>
        {webhooks.error && !webhooks.data && (
          <ErrorNotice failure={failureOf(webhooks.error)} what="The webhooks could not be loaded" />
        )}
        {!webhooks.data && !webhooks.error && <p role="status">Loading…</p>}
        {webhooks.data && <WebhookTable webhooks={webhooks.data.webhooks} />}
      </section>
      <section aria-labelledby="alerts-heading">
        <h2 id="alerts-heading">Recent alerts{flagSet === '' ? '' : ` in ${flagSet}`}</h2>
        <p className="help">
          Kill switches, changes to locked flags, edits made outside Ensign, experiments whose sample ratio broke, and
          guarded rollouts stopped by their guard, newest first.
        </p>
        {pages.items.length === 0 && !pages.loading && !pages.failure && pages.complete ? (
          <p className="empty">No alerts{flagSet === '' ? '' : ` in flag set ${flagSet}`}.</p>
        ) : (
          <ol className="alert-list" aria-label="Alerts, newest first">
            {pages.items.map((alert) => (
              <AlertItem key={alert.id} alert={alert} />
            ))}
          </ol>
        )}
        <LoadMore pages={pages} noun="alerts" one="alert" />
      </section>
    </>
  );
}

function FlagSetFilter({ flagSet }: { flagSet: string }) {
  const [{ data }] = useQuery({ query: FlagSetsQuery });
  const [, navigate] = useLocation();
  const sets = data?.flagSets ?? [];
  return (
    <label className="flag-set-switcher">
      Flag set
      <select value={flagSet} onChange={(e) => { navigate(alertsPath(e.target.value === '' ? undefined : e.target.value)); }}>
        <option value="">All flag sets</option>
        {flagSet !== '' && !sets.some((s) => s.key === flagSet) && <option value={flagSet}>{flagSet}</option>}
        {sets.map((s) => (
          <option key={s.key} value={s.key}>
            {s.key}
          </option>
        ))}
      </select>
    </label>
  );
}

type Webhook = WebhooksData['webhooks'][number];

function WebhookTable({ webhooks }: { webhooks: Webhook[] }) {
  if (webhooks.length === 0) {
    return (
      <p className="notice">
        No webhook is configured: alerts are listed here only. The server’s config file names webhooks under{' '}
        <code>webhooks:</code> (a URL and a secret each) to have every alert sent to them, signed.
      </p>
    );
  }
  return (
    <table className="webhook-table">
      <caption className="visually-hidden">Delivery to each webhook</caption>
      <thead>
        <tr>
          <th scope="col">Webhook</th>
          <th scope="col">State</th>
          <th scope="col">Delivered through</th>
          <th scope="col">Pending</th>
          <th scope="col">Last delivery</th>
          <th scope="col">Last attempt</th>
        </tr>
      </thead>
      {webhooks.map((webhook) => (
        <WebhookRows key={webhook.target} webhook={webhook} />
      ))}
    </table>
  );
}

function When({ at }: { at: string | null }) {
  if (at === null) return <span className="help">never</span>;
  return (
    <>
      <time dateTime={at}>{formatTime(at)}</time> <span className="help">({relativeTime(at)})</span>
    </>
  );
}

function WebhookRows({ webhook }: { webhook: Webhook }) {
  const failing = webhook.failingSince !== null;
  return (
    <tbody className={failing ? 'webhook-failing' : undefined}>
      <tr>
        <th scope="row">
          <code>{webhook.target}</code>
        </th>
        <td>
          <span className={`delivery delivery-${failing ? 'failing' : webhook.pending > 0 ? 'pending' : 'delivered'}`}>
            {failing ? 'Failing' : webhook.pending > 0 ? 'Delivering' : 'Up to date'}
          </span>
        </td>
        <td>event {webhook.deliveredThrough}</td>
        <td>{countText(webhook.pending)}</td>
        <td>
          <When at={webhook.deliveredAt} />
        </td>
        <td>
          <When at={webhook.attemptedAt} />
        </td>
      </tr>
      {failing && webhook.failingSince && (
        <tr className="webhook-failure">
          <td colSpan={6}>
            <strong>Failing since</strong> <When at={webhook.failingSince} />, after {countText(webhook.failedAttempts)}{' '}
            failed attempt{webhook.failedAttempts === 1 ? '' : 's'} (retried with backoff). Last error:{' '}
            <code className="last-error">{webhook.lastError ?? 'not recorded'}</code>
          </td>
        </tr>
      )}
    </tbody>
  );
}

function AlertItem({ alert }: { alert: ShownAlert }) {
  const id = `alert-${String(alert.id)}`;
  const { event } = alert;
  const links = subjectLinks(event);
  return (
    <li>
      <article className={`alert alert-${alert.severity.toLowerCase()}`} aria-labelledby={id}>
        <header className="alert-head">
          <span className={`severity severity-${alert.severity.toLowerCase()}`}>{SEVERITY_LABEL[alert.severity]}</span>
          <h3 id={id}>{alertTitle(alert)}</h3>
          <span className="help">
            <time dateTime={event.createdAt}>{formatTime(event.createdAt)}</time> ({relativeTime(event.createdAt)}) by{' '}
            {event.actor}
            {event.flagSet ? ` in ${event.flagSet}` : ''} · event {event.id}
          </span>
        </header>
        <p className="alert-message">{alert.message}</p>
        {alert.publication && (
          <p className={alert.publication.published ? 'help' : 'error-notice'}>
            Flag set version {alert.publication.version}{' '}
            {alert.publication.published
              ? 'compiles and is published.'
              : `does not compile, so it is not published: ${alert.publication.errors.join('; ')}`}
          </p>
        )}
        <div className="alert-foot">
          {links.length > 0 && (
            <span className="alert-links">
              {links.map((link) => (
                <Link key={link.href} href={link.href}>
                  {link.label}
                </Link>
              ))}
            </span>
          )}
          {alert.deliveries.length > 0 ? (
            <ul className="deliveries" aria-label={`Delivery of event ${String(event.id)}`}>
              {alert.deliveries.map((d) => (
                <li key={d.webhook}>
                  <span className={`delivery delivery-${d.status.toLowerCase()}`}>{DELIVERY_LABEL[d.status]}</span> to{' '}
                  <code>{d.webhook}</code>
                </li>
              ))}
            </ul>
          ) : (
            <span className="help">Not sent: no webhook is configured.</span>
          )}
        </div>
      </article>
    </li>
  );
}
