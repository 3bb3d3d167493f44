// What axe finds in GraphiQL's own widgets (graphiql 4 on CodeMirror 5),
// which Ensign's page hosts but does not render. A scenario fails on any
// other, and when one of these shows on none of its screens, so a GraphiQL
// upgrade (or a fix in dashboard/src/graphiql) that removes one shortens
// this list.
import type { Library } from './fixtures';

export const GRAPHIQL: Library = {
  within: '.graphiql-container',
  known: [
    {
      rule: 'color-contrast',
      reason: "the editors' line numbers and some syntax colours are faint (GraphiQL's theme)",
    },
    {
      rule: 'label',
      reason: "CodeMirror 5's hidden input textareas carry no label",
    },
    {
      rule: 'nested-interactive',
      reason: "GraphiQL's tab list puts buttons inside list items with a tab role",
    },
    {
      rule: 'scrollable-region-focusable',
      reason: "CodeMirror's scroller is not focusable (its textarea takes the keyboard)",
    },
  ],
};
