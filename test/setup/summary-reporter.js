// Writes jest's totals to a file for scripts/test.js, which prints CI's closing line.
// Suites that fail to load count as failures (they would otherwise add no failed test).
import { writeFileSync } from 'node:fs';
export default class SummaryReporter {
  onRunComplete(_contexts, r) {
    const failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
    const out = process.env.MIO_SUMMARY_FILE;
    if (out)
      writeFileSync(
        out,
        JSON.stringify({ passed: r.numPassedTests, failed, skipped: r.numPendingTests + r.numTodoTests }),
      );
  }
}
