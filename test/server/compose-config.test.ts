/**
 * The server configured as docker-compose.yml configures it: a SERVER_DATABASE_URL without a
 * password and the password in PGPASSWORD, a password full of URL delimiters.
 * On the embedded cluster (scram-sha-256) the password is checked; a trust server only shows
 * that such a URL is accepted and connects.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../db/embedded.js';
import { signDevelopmentToken } from '../../server/auth/token.js';
import { useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();
// not named pgcomply_*: the security test lists those logins; cluster-wide, so dropped after
const role = `compose_login_${inject('runPrefix')}`.toLowerCase();
const password = 'p/a@s#s%w:o?r&d';

afterAll(async () => {
  await db.admin.unsafe(`revoke connect on database "${db.name}" from "${role}"`);
  await db.admin.unsafe(`drop role if exists "${role}"`);
});

describe('a server login whose password is only in PGPASSWORD', () => {
  it('connects and serves, whatever the password holds', async () => {
    // the same memberships as the server's own login
    const [memberships] = await db.admin`select string_agg(quote_ident(r.rolname), ', ') as roles from pg_auth_members m
      join pg_roles r on r.oid = m.roleid where m.member = 'pgcomply_server'::regrole`;
    await db.admin.unsafe(`create role "${role}" login password '${password.replace(/'/g, "''")}' in role ${memberships!.roles}`);
    await db.admin.unsafe(`grant connect on database "${db.name}" to "${role}"`);
    const url = new URL(db.adminUrl);
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('server/main.ts')], {
      env: { ...process.env, DATABASE_URL: '', TEST_DATABASE_URL: '', LOG_LEVEL: 'warn', RUN_WORKER: 'false', PORT: String(port),
        SERVER_DATABASE_URL: `postgres://${role}@${url.host}/${db.name}`, PGPASSWORD: password,
        TOMBSTONE_PEPPER: inject('tombstonePepper') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    try {
      const healthy = await until(async () => (child.exitCode !== null ? false
        : (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) || undefined), 60_000, 'the server to answer /healthz');
      expect(healthy, output).toBe(true);
      const token = await signDevelopmentToken({ subject: 'user:composed' });
      const me = await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
