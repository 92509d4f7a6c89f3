/**
 * Log lines as their reader needs them: readable lines for a person at a terminal
 * (LOG_FORMAT=pretty, the default on a TTY), one JSON object per line for anything else, and
 * personal data redacted either way.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const script = `import { createLogger } from ${JSON.stringify(path.resolve('core/log.ts'))};
createLogger('info', 'pgcomply').info({ email: 'ada@example.org', rows: 3 }, 'export written');`;

function logWith(format: string | undefined) {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  if (format) env.LOG_FORMAT = format;
  else delete env.LOG_FORMAT;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env });
  expect(run.stderr).toBe('');
  return run.stdout.trim();
}

describe('log lines', () => {
  it('are readable lines with LOG_FORMAT=pretty: level, message, fields; the e-mail redacted', () => {
    const line = logWith('pretty');
    expect(() => JSON.parse(line)).toThrow();
    expect(line).toMatch(/INFO.*\(pgcomply\): export written/);
    expect(line).toContain('rows: 3');
    expect(line).toContain('[redacted]');
    expect(line).not.toContain('ada@example.org');
  });

  it('are JSON when the output is not a terminal and nothing is asked', () => {
    const entry = JSON.parse(logWith(undefined));
    expect(entry).toMatchObject({ level: 30, name: 'pgcomply', msg: 'export written', rows: 3, email: '[redacted]' });
  });
});
