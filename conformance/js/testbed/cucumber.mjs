// cucumber-js profiles for flagd-testbed's provider-level gherkin suite, one
// per provider mode: `rpc` and `in-process` against `ensign serve`, `file`
// reading the testbed's flags offline. conformance/tests/provider_suite.rs
// runs each; by hand, from conformance/js:
//
//   ENSIGN_BIN=/path/to/ensign ENSIGN_TESTBED_SCRATCH=/tmp/testbed \
//     npx cucumber-js --config testbed/cucumber.mjs --profile rpc
//
// ENSIGN_CONFORMANCE_DIR names the conformance material (default
// ../shared/conformance beside the workspace), ENSIGN_TESTBED_PARALLEL the
// number of cucumber-js workers, ENSIGN_TESTBED_REPORT a file for the
// summary that testbed/report.mjs writes.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const conformance = process.env.ENSIGN_CONFORMANCE_DIR ?? path.resolve(here, '../../../../shared/conformance');

function profile(mode) {
  const format = ['progress'];
  if (process.env.ENSIGN_TESTBED_REPORT) {
    format.push([path.join(here, 'report.mjs'), process.env.ENSIGN_TESTBED_REPORT]);
  }
  return {
    paths: [path.join(conformance, 'flagd-testbed', 'gherkin', '*.feature')],
    import: [path.join(here, 'support', '*.mjs')],
    format,
    formatOptions: { colorsEnabled: false },
    parallel: Number(process.env.ENSIGN_TESTBED_PARALLEL ?? 2),
    worldParameters: { mode },
  };
}

export default function profiles() {
  return {
    default: profile('rpc'),
    rpc: profile('rpc'),
    'in-process': profile('in-process'),
    file: profile('file'),
  };
}
