// GraphiQL at the API's own address: a browser's GET /graphql shows it, and
// it runs a query with the signed-in tab's token.
import { expect, signIn, test } from '../support/fixtures';
import { GRAPHIQL } from '../support/known-violations';

test('GraphiQL at /graphql runs a query with the token', async ({ page, record }) => {
  await signIn(page);
  await page.goto('/graphql');
  const run = page.getByRole('button', { name: /execute query/i });
  await expect(run).toBeVisible();
  await record('graphiql', { library: GRAPHIQL });

  // Typed as one insertion: GraphiQL's editor closes brackets on key presses.
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.insertText('{ flagSets { key } }');
  await run.click();

  const result = page.locator('.result-window');
  await expect(result).toContainText('"flagSets"');
  await expect(result).toContainText('"key": "default"');
  await record('graphiql-result', { library: GRAPHIQL });
});
