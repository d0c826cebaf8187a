import type { Reporter, TestCase, TestModule } from 'vitest/node'

/**
 * Prints the closing line CI reads: `N passed, N failed` (skipped tests are listed with their
 * reasons on the line before, so a skip is never silent).
 */
export default class SummaryReporter implements Reporter {
  #passed = 0
  #failed = 0
  #skipped: string[] = []

  onTestCaseResult(test: TestCase): void {
    const state = test.result().state
    if (state === 'passed') this.#passed++
    else if (state === 'failed') this.#failed++
    else if (state === 'skipped') this.#skipped.push(`${test.module.moduleId.split('/test/').pop()}: ${test.fullName}`)
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const failed = this.#failed + unhandledErrors.length
    if (this.#skipped.length) {
      process.stdout.write(`\nskipped (${this.#skipped.length}):\n${this.#skipped.map((s) => `  - ${s}`).join('\n')}\n`)
    }
    process.stdout.write(`\n${this.#passed} passed, ${failed} failed\n`)
  }
}
