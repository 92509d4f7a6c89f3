/**
 * A backup taken with pgBackRest, one at a time across every worker: a session advisory lock on
 * the database decides who takes it; the others step aside. What pgBackRest reports (pgbackrest
 * info --output=json) is recorded with compliance.record_backup, audited, and a failure raises an
 * alert through the outbox.
 */
import { execFile } from 'node:child_process';
import type pg from 'pg';

export interface PgBackRest {
  /** the command that runs pgBackRest, e.g. ['pgbackrest'] or ['runuser', '-u', 'postgres', '--', 'pgbackrest'] */
  command: string[];
  config?: string;
  stanza: string;
}

export type BackupType = 'full' | 'diff' | 'incr';

export type BackupOutcome =
  | { taken: true; label: string; auditRowId: string }
  | { taken: false; reason: 'another_backup_running' }
  | { taken: false; reason: 'failed'; error: string; auditRowId: string };

/** the advisory lock every pgcomply backup takes: two workers, or a worker and the CLI, never overlap */
const BACKUP_LOCK = "hashtextextended('pgcomply.backup', 0)";

function run(tool: PgBackRest, args: string[]): Promise<string> {
  const [program, ...prefix] = tool.command;
  const argv = [...prefix, ...(tool.config ? [`--config=${tool.config}`] : []), `--stanza=${tool.stanza}`, ...args];
  return new Promise((resolve, reject) => {
    execFile(program!, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error((stderr || stdout || error.message).trim().split('\n').slice(-3).join(' ')));
      else resolve(stdout);
    });
  });
}

interface InfoBackup { label: string; type: string; timestamp: { start: number; stop: number }; info: { size: number; repository: { size: number } }; archive: { start: string; stop: string } }

/** takes a backup of the given type unless another is running, and records what happened */
export async function takeBackup(client: pg.ClientBase, tool: PgBackRest, type: BackupType): Promise<BackupOutcome> {
  const { rows: [lock] } = await client.query<{ locked: boolean }>(`select pg_try_advisory_lock(${BACKUP_LOCK}) as locked`);
  if (!lock!.locked) return { taken: false, reason: 'another_backup_running' };
  try {
    try {
      await run(tool, [`--type=${type}`, 'backup']);
    } catch (error) {
      const message = (error as Error).message;
      const { rows: [row] } = await client.query<{ id: string }>('select compliance.record_backup($1) as id', [JSON.stringify({ type, ok: false, error: message })]);
      return { taken: false, reason: 'failed', error: message, auditRowId: String(row!.id) };
    }
    const [stanza] = JSON.parse(await run(tool, ['--output=json', 'info'])) as { backup: InfoBackup[] }[];
    const newest = stanza!.backup.at(-1)!;
    const { rows: [row] } = await client.query<{ id: string }>('select compliance.record_backup($1) as id', [JSON.stringify({
      type: newest.type, ok: true, label: newest.label,
      started_at: new Date(newest.timestamp.start * 1000).toISOString(), stopped_at: new Date(newest.timestamp.stop * 1000).toISOString(),
      size_bytes: newest.info.size, repo_size_bytes: newest.info.repository.size, wal_start: newest.archive.start, wal_stop: newest.archive.stop })]);
    return { taken: true, label: newest.label, auditRowId: String(row!.id) };
  } finally {
    await client.query(`select pg_advisory_unlock(${BACKUP_LOCK})`);
  }
}
