/**
 * The client_tls compliance check when TLS is required, whole and broken, on a
 * cluster of its own that serves TLS (a self-signed certificate made here): every connection
 * with TLS 1.3 passes; one without TLS, or forced down to TLS 1.2, fails.
 */
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type EmbeddedCluster, freePort, startEmbedded } from '../../db/embedded.js';
import { setupDatabase } from '../../db/setup.js';
import { connect } from '../../db/tls.js';
import { quiet } from '../provision/database.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-tls-'));
chmodSync(dir, 0o755); // the postgres OS user runs the cluster when we are root
let cluster: EmbeddedCluster | undefined;
let url = '';

beforeAll(async () => {
  const options = { databaseDir: path.join(dir, 'pg'), port: await freePort(), password: 'pgcomply-tls', persistent: true,
    settings: { fsync: 'off', synchronous_commit: 'off' } };
  // initialised first, so the key can be given to the data directory's owner
  await (await startEmbedded(options, true)).stop();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { notAfterDate: new Date(Date.now() + 86_400_000), keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }] });
  const owner = statSync(options.databaseDir);
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  writeFileSync(cert, pems.cert, { mode: 0o644 });
  writeFileSync(key, pems.private, { mode: 0o600 });
  if (process.getuid?.() === 0) chownSync(key, owner.uid, owner.gid);
  cluster = await startEmbedded({ ...options, settings: { ...options.settings, ssl: 'on', ssl_cert_file: cert, ssl_key_file: key } }, false);
  url = `${cluster.adminUrl('pgcomply_tls')}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cert)}`;
  await setupDatabase({ adminUrl: url, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: inject('tombstonePepper') } });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function clientTls(sql: postgres.Sql) {
  const [row] = await sql.begin(async (tx) => {
    await tx`set local role compliance_dpo`;
    await tx`select compliance.set_request_context('dpo:dana', '{dpo}')`;
    return tx`select status, measured from compliance.run_compliance_checks('demand', true) where check_name = 'client_tls'`;
  });
  return row as { status: string; measured: { plain_connections: number; below_tls_1_3: number; versions: Record<string, number> } };
}

describe('client_tls with REQUIRE_TLS', () => {
  it('fails on a connection forced down to TLS 1.2, and names the versions it saw', async () => {
    const tls = connect(url, { ...quiet, max: 1 });
    const cert = decodeURIComponent(new URL(url).searchParams.get('sslrootcert')!);
    const old = postgres(url.split('?')[0]!, { ...quiet, max: 1, ssl: { ca: readFileSync(cert, 'utf8'), maxVersion: 'TLSv1.2' } });
    try {
      const [own] = await old`select version from pg_stat_ssl where pid = pg_backend_pid()`;
      expect(own!.version).toBe('TLSv1.2');
      const failing = await clientTls(tls);
      expect(failing).toMatchObject({ status: 'fail', measured: { plain_connections: 0, below_tls_1_3: 1, versions: { 'TLSv1.2': 1 } } });
      expect(failing.measured.versions['TLSv1.3']).toBeGreaterThanOrEqual(1);
    } finally {
      await old.end();
      await tls.end();
    }
  });

  it('passes while every connection uses TLS, and fails with one that does not', async () => {
    const tls = connect(url, { ...quiet, max: 1 });
    try {
      const [own] = await tls`select ssl from pg_stat_ssl where pid = pg_backend_pid()`;
      expect(own!.ssl).toBe(true);
      const passing = await clientTls(tls);
      expect(passing).toMatchObject({ status: 'pass', measured: { plain_connections: 0, below_tls_1_3: 0 } });
      // every connection pgcomply opened here speaks TLS 1.3
      expect(Object.keys(passing.measured.versions)).toEqual(['TLSv1.3']);
      const plain = postgres(url.split('?')[0]!, { ...quiet, ssl: false, max: 1 });
      try {
        await plain`select 1`;
        expect(await clientTls(tls)).toMatchObject({ status: 'fail', measured: { plain_connections: 1 } });
      } finally {
        await plain.end();
      }
    } finally {
      await tls.end();
    }
  });
});
