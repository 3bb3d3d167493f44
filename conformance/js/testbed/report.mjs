// A cucumber-js formatter that writes one run's outcome as JSON for
// conformance/tests/provider_suite.rs: how many scenarios passed, failed and
// were skipped, every skip grouped by the reason its Before hook attached,
// the scenarios that failed as a listed server bug says, and each failure.

import { Formatter, formatterHelpers } from '@cucumber/cucumber';

export default class ReportFormatter extends Formatter {
  static documentation = 'Counts, skip reasons and failures as JSON';

  constructor(options) {
    super(options);
    options.eventBroadcaster.on('envelope', (envelope) => {
      if (envelope.testRunFinished) {
        this.log(JSON.stringify(this.report(), null, 2));
      }
    });
  }

  report() {
    const report = { passed: 0, failed: 0, skipped: 0, knownBugs: 0, skips: {}, bugs: {}, failures: [] };
    for (const attempt of this.eventDataCollector.getTestCaseAttempts()) {
      if (attempt.willBeRetried) {
        continue;
      }
      const name = `${attempt.pickle.uri.split('/').pop()}: ${attempt.pickle.name}`;
      const notes = Object.values(attempt.stepAttachments)
        .flat()
        .map((attachment) => attachment.body);
      const skip = notes.find((note) => note.startsWith('skipped: '));
      const bug = notes.find((note) => note.startsWith('known server bug: '));
      const status = attempt.worstTestStepResult.status;
      if (status === 'PASSED') {
        report.passed += 1;
      } else if (status === 'SKIPPED' && bug) {
        report.knownBugs += 1;
        add(report.bugs, bug.slice('known server bug: '.length), name);
      } else if (status === 'SKIPPED' && skip) {
        report.skipped += 1;
        add(report.skips, skip.slice('skipped: '.length), name);
      } else {
        // A skip without a reason counts as a failure: every skip names one.
        report.failed += 1;
        report.failures.push({
          name,
          status,
          details: formatterHelpers.formatIssue({
            colorFns: this.colorFns,
            number: report.failures.length + 1,
            snippetBuilder: this.snippetBuilder,
            supportCodeLibrary: this.supportCodeLibrary,
            testCaseAttempt: attempt,
            printAttachments: true,
          }),
        });
      }
    }
    return report;
  }
}

function add(groups, reason, name) {
  groups[reason] ??= [];
  groups[reason].push(name);
}
