import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: '.',
    include: ['test/**/*.test.ts'],
    // clusters of their own, run by .ci/run after the suite (test/harness.config.ts)
    exclude: ['test/harness/**', 'node_modules/**'],
    globalSetup: ['test/provision/global-setup.ts'],
    pool: 'forks',
    // long enough for a two-core machine with two busy processes beside the suite; a hang still fails
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
  },
});
