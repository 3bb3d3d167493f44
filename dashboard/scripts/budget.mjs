// The bundle budget: sums the gzip size of the JavaScript the main entry
// loads before the flag list shows (the entry chunk, its static imports,
// and the flag-list route's chunks if they are split off) from Vite's
// manifest, prints it, and fails above the budget. It also fails when any
// of that JavaScript comes from GraphiQL, which only graphiql.html loads.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 250 * 1024;
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, 'dist');
// What must load before the flag list shows: the page, and the flag-list
// screen in case it becomes a lazily loaded route.
const FIRST_SCREEN = ['index.html', 'src/flags/FlagsScreen.tsx'];

const manifestPath = path.join(dist, '.vite', 'manifest.json');
const manifest = JSON.parse(
  await readFile(manifestPath, 'utf8').catch(() => {
    throw new Error(`${manifestPath} is missing: run npm run build first`);
  }),
);
if (!manifest['index.html']) {
  throw new Error(`${manifestPath} has no index.html entry`);
}

// The chunks (manifest keys) loaded by the first screen: each start and its
// static imports, transitively.
const needed = new Set();
const visit = (key) => {
  if (needed.has(key)) return;
  const chunk = manifest[key];
  if (!chunk) throw new Error(`the manifest names ${key} but has no entry for it`);
  needed.add(key);
  for (const imported of chunk.imports ?? []) visit(imported);
};
for (const start of FIRST_SCREEN) {
  if (manifest[start]) visit(start);
}

let total = 0;
const rows = [];
for (const key of needed) {
  const chunk = manifest[key];
  if (!chunk.file.endsWith('.js')) continue;
  if (/graphiql/i.test(chunk.src ?? '') || /graphiql/i.test(chunk.name ?? '')) {
    console.error(`budget: ${chunk.file} (${chunk.src ?? chunk.name}) is GraphiQL, loaded by the main entry`);
    process.exitCode = 1;
  }
  const gzip = gzipSync(await readFile(path.join(dist, chunk.file)), { level: 9 }).length;
  total += gzip;
  rows.push(`  ${chunk.file}: ${(gzip / 1024).toFixed(1)} KB gzip`);
}
console.log(rows.join('\n'));
const summary = `main entry before the flag list: ${(total / 1024).toFixed(1)} KB gzip (budget ${BUDGET_BYTES / 1024} KB)`;
if (total > BUDGET_BYTES) {
  console.error(`budget exceeded: ${summary}`);
  process.exitCode = 1;
} else {
  console.log(summary);
}
