import { defineConfig } from 'vitest/config'

// Services (FerretDB, the Python Event Manager) are started once by the global setup and shared;
// each test file uses its own database names. Two workers fit CI's 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/services.ts'],
    reporters: ['default', './test/setup/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
