/**
 * The API over HTTPS: TLS 1.3 only (curl with TLS 1.2 at most fails, with TLS 1.3 it is served),
 * HSTS on every answer, a renewed certificate taken without a restart; behind a proxy, a request
 * the proxy did not receive over HTTPS is refused; production refuses plain HTTP on a network address.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import postgres from 'postgres';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/log.js';
import { DataKeys } from '../../core/keys/data-keys.js';
import { createApp } from '../../server/app.js';
import { createVerifier } from '../../server/auth/verify.js';
import { createMetrics } from '../../server/metrics.js';
import { type ApiServer, reloadCertificate, type Transport } from '../../server/transport.js';
import { quiet, useTestDatabase } from '../provision/database.js';
import { testMasterKeys } from './harness.js';

const db = useTestDatabase();
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-https-'));
const files = { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') };
let sql: postgres.Sql;
const servers: ApiServer[] = [];

async function certificate(commonName: string) {
  const pems = await generate([{ name: 'commonName', value: commonName }], { notAfterDate: new Date(Date.now() + 86_400_000), keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }] });
  writeFileSync(files.certFile, pems.cert);
  writeFileSync(files.keyFile, pems.private, { mode: 0o600 });
  return new X509Certificate(pems.cert).fingerprint256;
}

async function serve(transport: Transport): Promise<{ server: ApiServer; port: number }> {
  const server = createApp({ sql, log: createLogger('silent'), verifier: createVerifier({}), metrics: createMetrics(), sessionIdleTimeoutSeconds: 900,
    dataKeys: new DataKeys(testMasterKeys()) }, undefined, transport);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** the certificate a new TLS connection is served */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** curl in a child process, awaited: the server answering it runs in this one */
const curl = (...args: string[]) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
  execFile('curl', ['--silent', '--show-error', '--insecure', '--max-time', '60', ...args], { encoding: 'utf8' },
    (error, stdout, stderr) => resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
});

beforeAll(() => {
  sql = postgres(db.loginUrl('server'), { ...quiet, max: 2 });
});
afterAll(async () => {
  for (const server of servers) server.close();
  await sql.end();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS', () => {
  it('speaks TLS 1.3 only: curl limited to TLS 1.2 fails, TLS 1.3 is served with HSTS', async () => {
    await certificate('pgcomply-test');
    const { port } = await serve({ tls: files });
    const old = await curl('--tlsv1.2', '--tls-max', '1.2', `https://127.0.0.1:${port}/healthz`);
    expect(old.status).not.toBe(0);
    expect(old.stderr).toMatch(/alert|protocol version|SSL|TLS/i);
    const current = await curl('--tlsv1.3', '--include', `https://127.0.0.1:${port}/healthz`);
    expect(current.status, current.stderr).toBe(0);
    expect(current.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(current.stdout).toMatch(/strict-transport-security: max-age=31536000; includeSubDomains/i);
    expect(current.stdout).toContain('"database":"ok"');
  });

  it('takes a renewed certificate without a restart (what SIGHUP does)', async () => {
    const first = await certificate('pgcomply-first');
    const { server, port } = await serve({ tls: files });
    expect(await servedFingerprint(port)).toBe(first);
    const renewed = await certificate('pgcomply-renewed');
    reloadCertificate(server, files);
    expect(await servedFingerprint(port)).toBe(renewed);
    expect((await curl('--tlsv1.3', `https://127.0.0.1:${port}/healthz`)).status).toBe(0);
  });
});

describe('behind a TLS-terminating proxy (TRUST_PROXY_TLS)', () => {
  it('refuses a request the proxy did not receive over HTTPS, /healthz aside, and sends HSTS', async () => {
    const { port } = await serve({ trustProxyTls: true });
    const plain = await fetch(`http://127.0.0.1:${port}/api/openapi.json`);
    expect(plain.status).toBe(403);
    expect((await plain.json()).message).toMatch(/X-Forwarded-Proto: https/);
    const proxied = await fetch(`http://127.0.0.1:${port}/api/openapi.json`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get('strict-transport-security')).toMatch(/^max-age=31536000/);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});

describe('production configuration', () => {
  const production = { NODE_ENV: 'production', HOST: '0.0.0.0', ALLOWED_HOSTS: 'pgcomply.example.com', AUTH_JWT_SECRET: 'x'.repeat(64),
    DATABASE_URL: 'postgres://u@db.internal/pgcomply', ANCHOR_DIR: '/anchors' };
  it('refuses plain HTTP on a network address, and takes HTTPS or a proxy that says it terminates TLS', () => {
    expect(() => loadConfig(production)).toThrow(/serve HTTPS \(TLS_CERT_FILE and TLS_KEY_FILE\), or set TRUST_PROXY_TLS=true/);
    expect(loadConfig({ ...production, TLS_CERT_FILE: '/tls/server.crt', TLS_KEY_FILE: '/tls/server.key' }).TLS_CERT_FILE).toBe('/tls/server.crt');
    expect(loadConfig({ ...production, TRUST_PROXY_TLS: 'true' }).TRUST_PROXY_TLS).toBe(true);
    expect(() => loadConfig({ ...production, TLS_CERT_FILE: '/tls/server.crt' })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE go together/);
    expect(loadConfig({ ...production, HOST: '127.0.0.1' }).NODE_ENV).toBe('production');
  });
});
