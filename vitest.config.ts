import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    reporters: ['default', './test/summaryReporter.ts'],
    // Runtime tests start real worker threads; two files at a time keeps the 2-core machine honest.
    maxWorkers: 2,
    // The leak test compares heap sizes after a forced collection.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
