// graphiql.html's entry: a small script that reads the token, then loads
// GraphiQL and its styles (none of which the dashboard's own page loads).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

// The admin API's schema, from the server's own file (the one the
// dashboard's types are generated from). GraphiQL gets it here rather
// than by introspection, whose query nests deeper than the server allows.
import schemaText from '../../../graphql-admin/schema.graphql?raw';
import { storedToken } from '../auth/storage';
import { createFetcher } from './fetcher';
import './graphiql-page.css';

async function start(container: HTMLElement) {
  const token = storedToken();
  const [{ GraphiQL }, { buildSchema }] = await Promise.all([
    import('graphiql'),
    import('graphql'),
    import('graphiql/style.css'),
  ]);
  const schema = buildSchema(schemaText);
  createRoot(container).render(
    <StrictMode>
      {!token && (
        <p className="graphiql-signed-out" role="status">
          Not signed in: requests carry no token. <a href="/sign-in?next=%2Fgraphiql.html">Sign in</a>{' '}
          or add an Authorization header below.
        </p>
      )}
      <div className="graphiql-host">
        <GraphiQL fetcher={createFetcher(token)} schema={schema} />
      </div>
    </StrictMode>,
  );
}

const container = document.getElementById('graphiql');
if (!container) throw new Error('graphiql.html has no #graphiql element');
start(container).catch((error: unknown) => {
  container.textContent = `GraphiQL could not be loaded: ${String(error)}`;
});
