import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: '.',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/provision/global-setup.ts'],
    pool: 'forks',
    // long enough for a two-core machine with two busy processes beside the suite; a hang still fails
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
  },
});
