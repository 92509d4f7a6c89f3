import { defineConfig } from 'vitest/config';

/** the harnesses that start clusters of their own (PITR, failover, pgaudit, Citus): .ci/run runs them after the suite */
export default defineConfig({
  test: {
    root: '.',
    include: ['test/harness/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
