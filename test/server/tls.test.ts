/** TLS to the database: asked for in the URL, required with REQUIRE_TLS=true. */
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { connect, requiresTls } from '../../db/tls.js';
import { loadConfig } from '../../core/config.js';

describe('REQUIRE_TLS=true', () => {
  it('refuses the embedded database and any URL that does not ask for TLS, and accepts one that does', () => {
    expect(() => loadConfig({ REQUIRE_TLS: 'true' })).toThrow(/embedded PostgreSQL has no TLS/);
    expect(() => loadConfig({ REQUIRE_TLS: 'true', DATABASE_URL: 'postgres://u:p@db.internal:5432/pgcomply' })).toThrow(/DATABASE_URL must ask for TLS/);
    expect(() => loadConfig({ REQUIRE_TLS: 'true', SERVER_DATABASE_URL: 'postgres://u@db.internal/pgcomply?sslmode=verify-full&sslrootcert=/ca.pem',
      WORKER_DATABASE_URL: 'postgres://u@db.internal/pgcomply?sslmode=prefer' })).toThrow(/WORKER_DATABASE_URL must ask for TLS/);
    // encrypted but unverified: a machine in the middle would read it
    expect(() => loadConfig({ REQUIRE_TLS: 'true', DATABASE_URL: 'postgres://u@db.internal/pgcomply?sslmode=require' }))
      .toThrow(/DATABASE_URL must verify the server: sslmode=verify-full with sslrootcert/);
    expect(() => loadConfig({ REQUIRE_TLS: 'true', DATABASE_URL: 'postgres://u@db.internal/pgcomply?sslmode=verify-full' }))
      .toThrow(/must verify the server/);
    expect(loadConfig({ REQUIRE_TLS: 'true', DATABASE_URL: 'postgres://u@db.internal/pgcomply?sslmode=verify-full&sslrootcert=/ca.pem' }).REQUIRE_TLS).toBe(true);
    expect(requiresTls('postgres://u@h/d?sslmode=require')).toBe(true);
    expect(requiresTls('postgres://u@h/d?sslmode=disable')).toBe(false);
  });

  it('stops npm start with one line', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.resolve('server/main.ts')], {
      env: { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/pgcomply', REQUIRE_TLS: 'true' }, encoding: 'utf8', timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^pgcomply: REQUIRE_TLS=true: DATABASE_URL must ask for TLS/);
  });
});

describe('a URL with sslmode and sslrootcert', () => {
  it('makes the connection ask for TLS with that CA (this test server has none, so it is refused), never sending sslrootcert as a setting', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-tls-'));
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const url = new URL(inject('maintenanceUrl'));
    url.searchParams.set('sslmode', 'verify-full');
    url.searchParams.set('sslrootcert', ca);
    const sql = connect(url.toString(), { max: 1, connect_timeout: 5 });
    const error = await sql`select 1`.then(() => undefined, (e: Error) => e);
    await sql.end();
    expect(error?.message).toMatch(/ssl|tls|certificate/i);
    expect(error?.message).not.toMatch(/unrecognized configuration parameter/);
    url.searchParams.set('sslrootcert', path.join(dir, 'missing.pem'));
    expect(() => connect(url.toString())).toThrow(/sslrootcert .*missing\.pem cannot be read \(ENOENT\)/);
  });
});
