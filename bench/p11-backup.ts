/**
 * P11: backup and restore throughput with pgBackRest (an encrypted local repository, as
 * pgcomply backup setup configures it) against pg_basebackup of the same cluster in the same run:
 * MB/s of the cluster's size for a full backup, and for restoring it into an empty directory.
 * The cluster is a PostgreSQL 15 of this machine's binaries with pgbench's tables in it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from '../db/embedded.js';
import { MachineCluster, ownedDirectory, ownedFile, runAsPostgres } from '../db/machine-cluster.js';
import { postgresPrograms } from '../db/postgres-binaries.js';
import { type BackupSetup, pgbackrestConf, serverSettings } from '../server/backups/pgbackrest-setup.js';
import { type BenchDatabase, figure, printConditions, timed } from './lib.js';

export async function run(db: BenchDatabase, quick: boolean): Promise<void> {
  const scale = quick ? 2 : 40;
  const work = ownedDirectory(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-p11-')));
  const socketDir = ownedDirectory(path.join(work, 'sockets'));
  const cluster = new MachineCluster(path.join(work, 'pg'), await freePort(), socketDir);
  const config = path.join(work, 'pgbackrest.conf');
  const setup: BackupSetup = { stanza: 'bench', dataDir: cluster.dataDir, port: cluster.port, socketDir,
    repository: { type: 'posix', path: ownedDirectory(path.join(work, 'repo')) }, cipherPass: randomBytes(36).toString('base64'), retentionFull: 2,
    logPath: ownedDirectory(path.join(work, 'log')), lockPath: ownedDirectory(path.join(work, 'lock')) };
  const bin = path.dirname(postgresPrograms('pgbench').get(15)!);
  try {
    writeFileSync(config, pgbackrestConf(setup, true), { mode: 0o600 });
    ownedFile(config);
    cluster.init(serverSettings(setup, config));
    cluster.start();
    const pgbackrest = (...args: string[]) => runAsPostgres('pgbackrest', [`--config=${config}`, `--stanza=${setup.stanza}`, ...args]);
    runAsPostgres(path.join(bin, 'pgbench'), ['-i', '-q', '-s', String(scale), '-h', socketDir, '-p', String(cluster.port), '-U', 'postgres', 'postgres']);
    const sql = postgres(cluster.url(), { max: 1, onnotice: () => undefined });
    const [size] = await sql`select sum(pg_database_size(datname))::float8 / 1048576 as mb from pg_database`;
    await sql.end();
    const mb = size!.mb as number;
    pgbackrest('stanza-create');
    // the bench database's conditions, and this cluster's own (PostgreSQL 15, fsync off as the harnesses run it)
    await printConditions(db, { benchmark: 'P11', cluster: 'pg15_machine_binaries_fsync_off', cluster_mb: mb.toFixed(0), pgbench_scale: scale,
      repository: 'posix,aes-256-cbc,zst', pg_basebackup: 'plain,uncompressed' });

    const [backupMs] = await timed(async () => pgbackrest('--type=full', 'backup'));
    const [baseMs] = await timed(async () => runAsPostgres(path.join(bin, 'pg_basebackup'), ['-h', socketDir, '-p', String(cluster.port), '-U', 'postgres',
      '-D', path.join(work, 'basebackup'), '-X', 'fetch', '--checkpoint=fast', '--no-sync']));
    const restoreDir = ownedDirectory(path.join(work, 'restore'));
    const [restoreMs] = await timed(async () => pgbackrest(`--pg1-path=${restoreDir}`, 'restore'));
    // pg_basebackup's "restore" is the copy it made: copying it into place is what an operator does
    const [copyMs] = await timed(async () => runAsPostgres('cp', ['-a', path.join(work, 'basebackup'), path.join(work, 'basebackup-restored')]));

    const rate = (ms: number) => mb / (ms / 1000);
    figure('P11', 'pgbackrest_full_backup', rate(backupMs), 'MB/s');
    figure('P11', 'pg_basebackup', rate(baseMs), 'MB/s');
    figure('P11', 'pgbackrest_backup_vs_pg_basebackup', rate(backupMs) / rate(baseMs), 'x');
    figure('P11', 'pgbackrest_restore', rate(restoreMs), 'MB/s');
    figure('P11', 'pg_basebackup_copied_into_place', rate(copyMs), 'MB/s');
    figure('P11', 'pgbackrest_restore_vs_copying_a_base_backup', rate(restoreMs) / rate(copyMs), 'x');
  } finally {
    cluster.stop('immediate');
    rmSync(work, { recursive: true, force: true });
  }
}
