/**
 * pgcomply backup verify (issue #21): restores a pg_dump -Fc archive into a scratch database on
 * the same server, verifies its audit chain with the independent verifier, asks the restored
 * database's own row-level security and privileges checks, drops the scratch database, and
 * records the result in the live database (compliance.record_backup_verification), where the
 * backup-age check reads it.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import type { Sql } from 'postgres';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { connect } from '../../db/tls.js';
import { verifyIndependently } from '../../core/verify/verifier.js';
import { accessProblems, type BackupProblem } from '../../core/backups/access-checks.js';

export class BackupUnreadable extends Error {}

export type { BackupProblem } from '../../core/backups/access-checks.js';

export interface BackupVerification {
  ok: boolean;
  file: string;
  file_sha256: string;
  file_bytes: number;
  archive_created_at: string;
  dumped_from: string | null;
  last_seal_no: number | null;
  rows_checked: number;
  problems: BackupProblem[];
  recorded_as: number;
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // pg_restore prints the archive's creation time in its own time zone: UTC, so it reads back exactly
    const child = spawn(command, args, { env: { ...process.env, TZ: 'UTC', PGTZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', (error) => reject(new BackupUnreadable(`cannot run ${command}: ${error.message} (give --pg-restore or put pg_restore on PATH)`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** the archive's header, as pg_restore --list prints it; an error that names the file when it is none */
async function readHeader(pgRestore: string, file: string): Promise<{ createdAt: string; dumpedFrom: string | null; databaseName: string | null }> {
  const listed = await run(pgRestore, ['--list', file]);
  if (listed.code !== 0) {
    throw new BackupUnreadable(`${file} is not a pg_dump -Fc archive this pg_restore can read: ${listed.stderr.trim().split('\n')[0] ?? ''}`);
  }
  const created = /^; Archive created at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/m.exec(listed.stdout);
  if (!created) throw new BackupUnreadable(`${file}: pg_restore --list shows no creation time`);
  const from = /^;\s+Dumped from database version: (.+)$/m.exec(listed.stdout);
  const dbname = /^;\s+dbname: (.+)$/m.exec(listed.stdout);
  return { createdAt: `${created[1]!.replace(' ', 'T')}Z`, dumpedFrom: from?.[1]?.trim() ?? null, databaseName: dbname?.[1]?.trim() ?? null };
}

interface Identity { database_id: string; system_identifier: string; database_name: string }
type FirstSeal = { seal_no: string; seal_hash: string } | undefined;

async function identityOf(sql: Sql): Promise<{ identity: Identity | undefined; firstSeal: FirstSeal }> {
  const [identity] = await sql<Identity[]>`
    select database_id::text, system_identifier::text, database_name from compliance_private.database_identity`.catch(() => []);
  const [firstSeal] = await sql<{ seal_no: string; seal_hash: string }[]>`
    select seal_no::text, encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals order by seal_no limit 1`;
  return { identity, firstSeal };
}

/**
 * Whether the archive is this database's: the identity its migration made (a random id, the
 * cluster's system identifier and the name where it was made: a dump and a restore carry them),
 * the name the archive was dumped from, and the first seal of its chain, which this database must
 * hold with the same hash (unless retention has since removed it).
 */
async function otherDatabaseProblems(admin: Sql, scratch: Sql, dumpedFromName: string | null): Promise<BackupProblem[]> {
  const live = await identityOf(admin);
  const archived = await identityOf(scratch);
  const [here] = await admin<{ name: string }[]>`select current_database() as name`;
  const problems: BackupProblem[] = [];
  if (!archived.identity) {
    problems.push({ kind: 'other_database', detail: 'the archive holds no database identity (made by migration 000042): it cannot be told to be this database\'s' });
  } else if (!live.identity || archived.identity.database_id !== live.identity.database_id
             || archived.identity.system_identifier !== live.identity.system_identifier) {
    problems.push({ kind: 'other_database', detail: `the archive is of another pgcomply database (${archived.identity.database_name}, identity ${archived.identity.database_id})` });
  }
  if (dumpedFromName && dumpedFromName !== here!.name) {
    problems.push({ kind: 'other_database', detail: `the archive was dumped from database ${dumpedFromName}, this is ${here!.name}` });
  }
  if (archived.firstSeal) {
    const [same] = await admin<{ seal_hash: string }[]>`
      select encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals where seal_no = ${archived.firstSeal.seal_no}::bigint`;
    if (same && same.seal_hash !== archived.firstSeal.seal_hash) {
      problems.push({ kind: 'other_chain', detail: `seal ${archived.firstSeal.seal_no} of the archive's chain differs from this database's` });
    }
  }
  return problems;
}

export interface BackupVerifyOptions {
  file: string;
  adminUrl: string;
  admin: Sql;
  pgRestore: string;
  actor: string | undefined;
  /** called as each of the four stages ends: restore, chain, access checks, record */
  onStage?: () => void;
}

export async function verifyBackup(options: BackupVerifyOptions): Promise<BackupVerification> {
  const { file, admin } = options;
  const stage = options.onStage ?? (() => undefined);
  let bytes: number;
  try {
    bytes = statSync(file).size;
  } catch (error) {
    throw new BackupUnreadable(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const header = await readHeader(options.pgRestore, file);
  const sha256 = await sha256Of(file);

  const name = `pgcomply_backup_verify_${randomBytes(6).toString('hex')}`;
  const scratchUrl = withDatabase(parseDatabaseUrl(options.adminUrl), name);
  const problems: BackupProblem[] = [];
  let rowsChecked = 0;
  let lastSeal: { seal_no: number; seal_hash: string } | undefined;
  await admin.unsafe(`create database "${name}" template template0`);
  try {
    const restored = await run(options.pgRestore, ['--exit-on-error', '--no-password', '-d', scratchUrl, file]);
    if (restored.code !== 0) {
      problems.push({ kind: 'restore_failed', detail: `pg_restore failed: ${restored.stderr.trim().split('\n').slice(0, 2).join(' ')}` });
    } else {
      stage();
      const verdict = await verifyIndependently(scratchUrl);
      stage();
      rowsChecked = verdict.rows_checked;
      problems.push(...verdict.problems);
      const scratch = connect(scratchUrl, { max: 1, onnotice: () => undefined, connection: { application_name: 'pgcomply-backup-verify' } });
      try {
        problems.push(...await accessProblems(scratch));
        problems.push(...await otherDatabaseProblems(admin, scratch, header.databaseName));
        [lastSeal] = await scratch<{ seal_no: number; seal_hash: string }[]>`
          select s.seal_no::int8 as seal_no, encode(s.seal_hash, 'hex') as seal_hash from compliance.audit_seals s order by s.seal_no desc limit 1`;
      } finally {
        await scratch.end({ timeout: 5 });
      }
      stage();
    }
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  }

  const [recorded] = await admin.begin(async (tx) => {
    if (options.actor) await tx`select set_config('compliance.actor', ${options.actor}, true)`;
    return tx<{ id: string }[]>`select compliance.record_backup_verification(${path.basename(file)}, ${sha256}, ${bytes}, ${header.createdAt}::timestamptz,
      ${lastSeal?.seal_no ?? null}::int8, ${lastSeal?.seal_hash ?? null}, ${rowsChecked}, ${tx.json(problems as never)}::jsonb)::text as id`;
  });
  stage();
  return { ok: problems.length === 0, file, file_sha256: sha256, file_bytes: bytes, archive_created_at: header.createdAt, dumped_from: header.dumpedFrom,
    last_seal_no: lastSeal ? Number(lastSeal.seal_no) : null, rows_checked: rowsChecked, problems, recorded_as: Number(recorded!.id) };
}
