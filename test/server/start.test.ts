import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/embedded.js';
import { signDevelopmentToken } from '../../server/auth/token.js';
import { runPgcomply } from '../provision/pgcomply.js';
import { until } from '../provision/until.js';

const MAIN = path.resolve('server/main.ts');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  for (const name of ['DATABASE_URL', 'TEST_DATABASE_URL', 'SERVER_DATABASE_URL', 'WORKER_DATABASE_URL']) delete env[name];
  return { ...env, ...extra };
}

function runToExit(env: NodeJS.ProcessEnv) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stderr: result.stderr.trim() };
}

async function startServer(port: number, pgPort: number, options: { detached?: boolean; env?: Record<string, string> } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: cleanEnv({ PORT: String(port), PGCOMPLY_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
    // its own process group, as a terminal's foreground job is: Ctrl-C signals the whole group
    detached: options.detached ?? false,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const started = Date.now();
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`server exited before it served: ${output}`);
    return (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false)) || undefined;
  }, 90_000, 'the server to answer /healthz').catch((error: Error) => {
    throw new Error(`server did not start (${error.message}): ${output}`);
  });
  return { child, seconds: (Date.now() - started) / 1000, output: () => output };
}

async function stop(child: ReturnType<typeof spawn>) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return child.exitCode;
}

describe('npm start with no DATABASE_URL', () => {
  it('answers /healthz within 60 s on an embedded PostgreSQL and keeps the data across a restart', async () => {
    const port = await freePort();
    const pgPort = await freePort();
    const token = await signDevelopmentToken({ subject: 'user:persistent' });
    const first = await startServer(port, pgPort);
    expect(first.seconds).toBeLessThan(60);
    const patch = await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ full_name: 'Still Here' }),
    });
    expect(patch.status).toBe(200);
    expect(first.output()).toContain('npm run psql');

    // npm run psql: psql on the embedded database when psql is installed, else how to connect
    const psqlCli = (extraEnv: Record<string, string>) => spawnSync(process.execPath, ['--import', 'tsx', path.resolve('cli/psql.ts'), '-Atc', 'select current_user'],
      { env: cleanEnv({ PGCOMPLY_DATA_DIR: dataDir, ...extraEnv }), encoding: 'utf8', timeout: 30_000 });
    const hasPsql = spawnSync('psql', ['--version']).status === 0;
    const session = psqlCli({});
    expect(session.status).toBe(0);
    expect(session.stdout.trim()).toBe(hasPsql ? 'postgres' : expect.stringContaining('postgresql-client'));
    if (hasPsql) {
      // the session brings the tombstone pepper: an erasure typed at this prompt works
      const peppered = spawnSync(process.execPath, ['--import', 'tsx', path.resolve('cli/psql.ts'), '-Atc', 'select cardinality(compliance_private.session_peppers())'],
        { env: cleanEnv({ PGCOMPLY_DATA_DIR: dataDir }), encoding: 'utf8', timeout: 30_000 });
      expect(peppered.stdout.trim(), peppered.stderr).toBe('1');
    }
    const withoutPsql = psqlCli({ PATH: '/nonexistent' });
    expect(withoutPsql.stdout).toMatch(new RegExp(`postgres://postgres:[^@]+@127\\.0\\.0\\.1:${pgPort}/pgcomply`));
    expect(withoutPsql.stdout).toContain('apt install postgresql-client');

    // tamper evidence from the first start: a signed anchor under the data directory, which verify checks
    const anchorLog = path.join(dataDir, 'anchors', 'anchors.jsonl');
    await until(async () => (existsSync(anchorLog) && readFileSync(anchorLog, 'utf8').trim() ? true : undefined), 90_000, `an anchor in ${anchorLog}`);
    const verified = await runPgcomply(['--json', 'verify', '--anchors', anchorLog], cleanEnv({ PGCOMPLY_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort) }));
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, anchors_checked: 1 });
    expect(await stop(first.child)).toBe(0);

    const second = await startServer(port, pgPort);
    try {
      const profile = await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } });
      expect((await profile.json()).full_name).toBe('Still Here');
    } finally {
      expect(await stop(second.child)).toBe(0);
    }
  });
});

describe('Ctrl-C on npm start', () => {
  it('stops quietly when the whole process group gets SIGINT, the embedded PostgreSQL too, and keeps the data', async () => {
    const port = await freePort();
    const pgPort = await freePort();
    const token = await signDevelopmentToken({ subject: 'user:ctrl-c' });
    const running = await startServer(port, pgPort, { detached: true, env: { LOG_LEVEL: 'info' } });
    const patch = await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ full_name: 'Survives Ctrl-C' }),
    });
    expect(patch.status).toBe(200);
    // the worker at work: a seal made after the request covers its audit rows (the sealer logs
    // that only at debug, so the newest seal's number says it)
    const auditor = await signDevelopmentToken({ subject: 'auditor:ctrl-c', roles: ['auditor'] });
    const newestSeal = async () => {
      const state = await fetch(`http://127.0.0.1:${port}/api/v1/anchors/state`, { headers: { authorization: `Bearer ${auditor}` } });
      return state.status === 200 ? Number((await state.json() as { seal_no: string }).seal_no) : 0;
    };
    const before = await newestSeal();
    await until(async () => ((await newestSeal()) > before ? true : undefined), 60_000, 'the worker to seal');
    const exited = new Promise<number | null>((resolve) => running.child.once('exit', (code) => resolve(code)));
    process.kill(-running.child.pid!, 'SIGINT');
    expect([0, 130], running.output()).toContain(await exited);

    const output = running.output();
    const afterSignal = output.slice(output.indexOf('shutting down')).trim().split('\n').slice(1);
    expect(output).not.toMatch(/\n\s+at |Unhandled|Emitted 'error'|\[Symbol\(/);
    for (const line of afterSignal) expect(() => JSON.parse(line), line).not.toThrow();
    expect(afterSignal.length).toBeLessThanOrEqual(6);
    expect(afterSignal.map((line) => JSON.parse(line).msg)).toEqual(expect.arrayContaining(['server stopped', 'worker stopped', 'embedded PostgreSQL stopped']));
    // nothing left running: the database port is free again
    await expect(new Promise((resolve, reject) => {
      const socket = net.connect(pgPort, '127.0.0.1', () => { socket.destroy(); reject(new Error('PostgreSQL still listens')); });
      socket.once('error', resolve);
    })).resolves.toBeDefined();

    const again = await startServer(port, pgPort);
    try {
      const profile = await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } });
      expect((await profile.json()).full_name).toBe('Survives Ctrl-C');
    } finally {
      expect(await stop(again.child)).toBe(0);
    }
  });
});

describe('bad configuration', () => {
  it('ends with one line naming an unparsable DATABASE_URL', () => {
    const { status, stderr } = runToExit(cleanEnv({ DATABASE_URL: 'not a url' }));
    expect(status).toBe(1);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^pgcomply: DATABASE_URL: DATABASE_URL is not a valid URL/);
  });

  it('ends with one line when the port is in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const { status, stderr } = runToExit(cleanEnv({ PORT: String(port), PGCOMPLY_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), RUN_WORKER: 'false' }));
      expect(status).toBe(1);
      expect(stderr.split('\n')).toHaveLength(1);
      expect(stderr).toBe(`pgcomply: port ${port} on 127.0.0.1 is already in use; set PORT to a free port`);
    } finally {
      blocker.close();
    }
  });

  it('refuses to start in production without ANCHOR_DIR, in one line', () => {
    const { status, stderr } = runToExit(cleanEnv({ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), PHI_MASTER_KEY: `1:${'a'.repeat(64)}`,
      TOMBSTONE_PEPPER: 'b'.repeat(64), ANCHOR_SIGNING_KEY_FILE: path.join(dataDir, 'no-such-key.pem'), PGCOMPLY_DATA_DIR: dataDir }));
    expect(status).toBe(1);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/ANCHOR_DIR/);
  });

  it('ends with one line for a port that is not a number', () => {
    const { status, stderr } = runToExit(cleanEnv({ PORT: 'eighty' }));
    expect(status).toBe(1);
    expect(stderr).toBe('pgcomply: PORT: PORT must be a number');
  });
});
