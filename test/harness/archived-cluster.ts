/**
 * A PostgreSQL 15 cluster of this machine's binaries with pgcomply set up and continuous WAL
 * archiving into a pgBackRest repository, configured as `pgcomply backup setup` writes it (the
 * repository encrypted), the stanza created and checked. For the harnesses.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { freePort } from '../../db/embedded.js';
import { DEVELOPMENT_LOGIN_PASSWORD } from '../../db/connection.js';
import { MachineCluster, ownedDirectory, ownedFile, runAsPostgres } from '../../db/machine-cluster.js';
import { pepperParameters } from '../../db/pepper.js';
import { setupDatabase } from '../../db/setup.js';
import type { PgBackRest } from '../../core/backups/pgbackrest.js';
import { type BackupSetup, pgbackrestConf, type Repository, serverSettings } from '../../server/backups/pgbackrest-setup.js';
import { quiet } from '../provision/database.js';

export interface ArchivedCluster {
  primary: MachineCluster;
  setup: BackupSetup;
  configFile: string;
  pepper: string;
  /** pgBackRest for the stanza, as the cluster's OS user; its output */
  pgbackrest(...args: string[]): string;
  /** the same, as the worker and the drill run it */
  tool: PgBackRest;
  /** the pgcomply database as the superuser, with the tombstone pepper erasure needs */
  connect(cluster?: MachineCluster): Sql;
}

export async function archivedCluster(work: string, repository: Repository): Promise<ArchivedCluster> {
  const pepper = randomBytes(32).toString('hex');
  const configFile = path.join(work, 'pgbackrest.conf');
  const socketDir = ownedDirectory(path.join(work, 'sockets'));
  const primary = new MachineCluster(path.join(work, 'primary'), await freePort(), socketDir);
  const setup: BackupSetup = { stanza: 'pgcomply', dataDir: primary.dataDir, port: primary.port, socketDir, repository,
    cipherPass: randomBytes(36).toString('base64'), retentionFull: 2, logPath: ownedDirectory(path.join(work, 'log')), lockPath: ownedDirectory(path.join(work, 'lock')) };
  writeFileSync(configFile, pgbackrestConf(setup, true), { mode: 0o600 });
  ownedFile(configFile);
  primary.init(serverSettings(setup, configFile));
  primary.start();
  await setupDatabase({ adminUrl: primary.url('pgcomply'), loginPassword: DEVELOPMENT_LOGIN_PASSWORD, tombstonePepper: { keyring: pepper } });
  const pgbackrest = (...args: string[]) => runAsPostgres('pgbackrest', [`--config=${configFile}`, `--stanza=${setup.stanza}`, ...args]);
  pgbackrest('stanza-create');
  pgbackrest('check');
  return {
    primary, setup, configFile, pepper, pgbackrest,
    tool: { command: process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', 'pgbackrest'] : ['pgbackrest'], config: configFile, stanza: setup.stanza },
    connect: (cluster = primary) => postgres(cluster.url('pgcomply'), { ...quiet, max: 1, connection: pepperParameters(pepper) }),
  };
}

export async function asDpo<T>(db: Sql, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return db.begin(async (tx) => {
    await tx`set local role compliance_dpo`;
    await tx`select compliance.set_request_context('dpo:harness', '{dpo}')`;
    return fn(tx);
  }) as Promise<T>;
}

/** a subject whose profile the app writes on first sight */
export async function subject(db: Sql, id: string): Promise<void> {
  await db.begin(async (tx) => {
    await tx`set local role compliance_app`;
    await tx`select compliance.set_request_context(${id})`;
    await tx`select compliance.ensure_profile(${id}, null, ${`${id.slice(5)}@example.org`}, null)`;
  });
}
