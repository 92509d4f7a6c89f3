/**
 * A backup taken with pgBackRest, one at a time across every worker: a session advisory lock on
 * the database decides who takes it; the others step aside. What pgBackRest reports (pgbackrest
 * info --output=json) is recorded with compliance.record_backup, audited, and a failure raises an
 * alert through the outbox.
 */
import type pg from 'pg';
import { backupsIn, type PgBackRest, runPgBackRest } from './pgbackrest.js';

export type { PgBackRest } from './pgbackrest.js';

export type BackupType = 'full' | 'diff' | 'incr';

export type BackupOutcome =
  | { taken: true; label: string; auditRowId: string }
  | { taken: false; reason: 'another_backup_running' }
  | { taken: false; reason: 'failed'; error: string; auditRowId: string };

/** the advisory lock every pgcomply backup takes: two workers, or a worker and the CLI, never overlap */
const BACKUP_LOCK = "hashtextextended('pgcomply.backup', 0)";

/** takes a backup of the given type unless another is running, and records what happened */
export async function takeBackup(client: pg.ClientBase, tool: PgBackRest, type: BackupType): Promise<BackupOutcome> {
  const { rows: [lock] } = await client.query<{ locked: boolean }>(`select pg_try_advisory_lock(${BACKUP_LOCK}) as locked`);
  if (!lock!.locked) return { taken: false, reason: 'another_backup_running' };
  try {
    try {
      await runPgBackRest(tool, [`--type=${type}`, 'backup']);
    } catch (error) {
      const message = (error as Error).message;
      const { rows: [row] } = await client.query<{ id: string }>('select compliance.record_backup($1) as id', [JSON.stringify({ type, ok: false, error: message })]);
      return { taken: false, reason: 'failed', error: message, auditRowId: String(row!.id) };
    }
    const newest = (await backupsIn(tool)).at(-1)!;
    const { rows: [row] } = await client.query<{ id: string }>('select compliance.record_backup($1) as id', [JSON.stringify({
      type: newest.type, ok: true, label: newest.label,
      started_at: new Date(newest.timestamp.start * 1000).toISOString(), stopped_at: new Date(newest.timestamp.stop * 1000).toISOString(),
      size_bytes: newest.info.size, repo_size_bytes: newest.info.repository.size, wal_start: newest.archive.start, wal_stop: newest.archive.stop })]);
    return { taken: true, label: newest.label, auditRowId: String(row!.id) };
  } finally {
    await client.query(`select pg_advisory_unlock(${BACKUP_LOCK})`);
  }
}
