import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toTRPCError } from '../../server/errors.js';

const migrations = path.resolve('db/migrations/committed');
const raised = new Set(
  readdirSync(migrations).flatMap((file) => [...readFileSync(path.join(migrations, file), 'utf8').matchAll(/raise_error\('([A-Z0-9]{5})'/g)].map((m) => m[1]!)),
);
const documented = readFileSync(path.resolve('db/ERROR_CODES.md'), 'utf8');

describe('error codes', () => {
  it('documents every SQLSTATE the migrations raise', () => {
    expect(raised.size).toBeGreaterThan(10);
    for (const code of raised) expect(documented, code).toContain(`| \`${code}\` |`);
  });

  it('maps every one of them to a specific API status, never to an internal error', () => {
    for (const code of raised) {
      // a server bug or a misconfigured server by definition
      if (code === 'NOCTX' || code === 'PEPPR') continue;
      const error = toTRPCError(Object.assign(new Error(`message for ${code}`), { name: 'PostgresError', code }));
      expect(error.code, code).not.toBe('INTERNAL_SERVER_ERROR');
      // CONFM's SQL hint speaks SQL; API clients get the same in the API's words
      expect(error.message).toContain(code === 'CONFM' ? 'confirm=true' : `message for ${code}`);
    }
  });
});
