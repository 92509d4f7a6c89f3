/**
 * Nothing committed may depend on the date the suite runs: the tests that compute with dates
 * (the schema dump, retention and partitions, reports and evidence, deadlines, the checks) run
 * again with the clock at a turn of the year, a leap day and the last seconds of a year. Debian's
 * faketime moves the clock of the test run and of the embedded PostgreSQL it starts, by one offset
 * from the real clock so that every process agrees on the time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const DATE_SENSITIVE = [
  'test/db/schema.test.ts', 'test/db/retention.test.ts', 'test/db/breaches.test.ts', 'test/db/compliance-checks.test.ts',
  'test/db/subject-rights.test.ts', 'test/db/access-reviews.test.ts', 'test/db/consent.test.ts',
  'test/server/monthly-report.test.ts', 'test/server/evidence.test.ts',
];

const INSTANTS = ['2027-01-01T00:00:30Z', '2028-02-29T12:00:00Z', '2030-12-31T23:59:50Z'];

function faketimeMissing(): string | undefined {
  const probe = spawnSync('faketime', ['-f', '+0s', 'true']);
  return probe.error || probe.status !== 0 ? 'faketime is not installed (Debian: apt-get install -y faketime; .ci/run installs it)' : undefined;
}

/** the date-sensitive tests on an embedded PostgreSQL with every clock at `instant` (moving on from there) */
function runAt(instant: string): Promise<{ code: number | null; output: string }> {
  const offset = Math.round((Date.parse(instant) - Date.now()) / 1000);
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', FORCE_COLOR: '0', NO_COLOR: '1' };
  delete env.TEST_DATABASE_URL; // the machine's server keeps the real clock: the run starts its own
  delete env.DATABASE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn('faketime', ['-f', `${offset >= 0 ? '+' : ''}${offset}s`, 'npx', 'vitest', 'run', '--config', 'test/vitest.config.ts', ...DATE_SENSITIVE],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the suite at other instants', () => {
  for (const instant of INSTANTS) {
    it(`passes the date-sensitive tests with the clock at ${instant}`, async () => {
      expect(faketimeMissing()).toBeUndefined();
      const { code, output } = await runAt(instant);
      const summary = output.split('\n').filter((line) => /Tests\s+\d|FAIL|×/.test(line)).join('\n');
      expect(code, `${summary}\n${output.slice(-4000)}`).toBe(0);
      expect(output).toMatch(/Tests\s+\d+ passed/);
      expect(output).not.toMatch(/\d+ failed/);
    }, 600_000);
  }
});
