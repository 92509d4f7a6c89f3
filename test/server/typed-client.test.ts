/**
 * A typed tRPC client in a TypeScript project of its own (test/typed-client/) type-checks
 * against the server's router and reads me.data's profile.full_name; a client reading a field
 * the output does not have fails to compile, so the check is not vacuous.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useServer } from './harness.js';

const api = useServer();
const project = path.resolve('test/typed-client');
const tsc = path.resolve('node_modules/typescript/bin/tsc');

const typecheck = (tsconfig: string) => spawnSync(process.execPath, [tsc, '-p', tsconfig], { encoding: 'utf8' });

describe('a typed tRPC client project', () => {
  it('type-checks against the router, reading me.data.profile.full_name', () => {
    const result = typecheck(project);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('fails to compile when it reads a field me.data does not have (TS2339)', () => {
    const dir = mkdtempSync(path.join(project, 'wrong-'));
    try {
      const source = readFileSync(path.join(project, 'client.ts'), 'utf8')
        .replace('../../server/', '../../../server/')
        .replace('data.profile?.full_name', 'data.profile?.nickname');
      writeFileSync(path.join(dir, 'client.ts'), source);
      writeFileSync(path.join(dir, 'tsconfig.json'), readFileSync(path.join(project, 'tsconfig.json'), 'utf8'));
      const result = typecheck(dir);
      expect(result.stdout).toMatch(/TS2339: Property 'nickname' does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs against the server: the name, the consents, and a refusal\'s SQLSTATE (CONFM)', async () => {
    const token = await api.token('user:typed');
    expect((await api.call('PATCH', '/api/v1/users/me', token, { full_name: 'Tia Typed' })).status).toBe(200);
    expect((await api.call('POST', '/api/v1/users/me/consent', token, { consent_type: 'analytics', granted: true })).status).toBe(200);
    const { readMyData } = (await import(path.join(project, 'client.ts'))) as typeof import('../typed-client/client.js');
    expect(await readMyData(api.baseUrl, token)).toEqual({ fullName: 'Tia Typed', consents: ['analytics:true'], healthRecords: 0, refusal: 'CONFM' });
  });
});
