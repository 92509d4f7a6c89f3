/**
 * A pgBackRest repository in S3-compatible object storage (s3rver over HTTPS in a process of its
 * own, its certificate signed by a CA pgBackRest is told of), as `pgcomply backup setup --s3-bucket` configures it,
 * encrypted: WAL is archived there, a backup is taken there, and a restore drill from it passes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreDrill } from '../../core/backups/restore-drill.js';
import { takeBackup } from '../../core/backups/take-backup.js';
import { freePort } from '../../db/embedded.js';
import { ownedDirectory, ownedFile } from '../../db/machine-cluster.js';
import { until } from '../provision/until.js';
import { type ArchivedCluster, archivedCluster, subject } from './archived-cluster.js';

const work = ownedDirectory(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-s3-')));
let storage: ChildProcess | undefined;

const accepts = (port: number) => new Promise<true | undefined>((resolve) => {
  const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
  socket.on('error', () => resolve(undefined));
});
let archived: ArchivedCluster;

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { notAfterDate: new Date(Date.now() + 86_400_000), keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }] });
  const caFile = path.join(work, 'storage-ca.pem');
  writeFileSync(caFile, pems.cert);
  ownedFile(caFile);
  const port = await freePort();
  const keyFile = path.join(work, 'storage.key');
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  // its own process: pgBackRest runs synchronously here, and would wait on a server in this one
  const s3rver = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  storage = spawn(process.execPath, [s3rver, '-d', path.join(work, 's3'), '-a', '127.0.0.1', '-p', String(port), '--silent', '--key', keyFile, '--cert', caFile,
    '--configure-bucket', 'pgcomply-backups'], { stdio: 'ignore' });
  await until(() => accepts(port), 60_000, 's3rver to listen');
  archived = await archivedCluster(work, { type: 's3', bucket: 'pgcomply-backups', endpoint: 'localhost', port, caFile, region: 'us-east-1', path: '/pgcomply',
    uriStyle: 'path', key: 'S3RVER', keySecret: 'S3RVER' });
}, 300_000);

afterAll(async () => {
  archived?.primary.stop('immediate');
  storage?.kill();
  if (!process.env.KEEP_HARNESS) rmSync(work, { recursive: true, force: true });
});

describe('a repository in S3-compatible object storage', () => {
  it('archives WAL there, takes a backup there, and a restore drill from it passes', async () => {
    const sql = archived.connect();
    const live = new pg.Client({ connectionString: archived.primary.url('pgcomply') });
    await live.connect();
    try {
      const taken = await takeBackup(live, archived.tool, 'full');
      expect(taken).toMatchObject({ taken: true, label: expect.stringMatching(/^\d{8}-\d{6}F$/) });
      await subject(sql, 'user:in-the-bucket');
      await sql`select pg_switch_wal()`;
      archived.pgbackrest('check');
      const info = JSON.parse(archived.pgbackrest('--output=json', 'info'))[0];
      expect(info).toMatchObject({ status: { message: 'ok' }, cipher: 'aes-256-cbc', repo: [{ cipher: 'aes-256-cbc', status: { message: 'ok' } }] });

      const drillWork = ownedDirectory(path.join(work, 'drills'));
      const outcome = await restoreDrill(live, { tool: archived.tool, workDir: drillWork, keyring: archived.pepper });
      expect(outcome).toMatchObject({ drilled: true, ok: true, problems: [], label: (taken as { label: string }).label });
    } finally {
      await live.end();
      await sql.end({ timeout: 5 });
    }
  });
});
