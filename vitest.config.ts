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
    // expect.poll waits for an effect (an instance built, a job run), it does not time it: vitest's 1 s
    // default failed on a loaded machine (a prewarm after recycle took longer). Timing claims live in benchmarks.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 120_000,
  },
});
