/**
 * What pgBackRest itself says, recorded before the daily checks read it: every backup `pgbackrest
 * info` lists (one taken by hand or by another tool's schedule counts too; one already recorded is
 * not recorded again), and whether `pgbackrest check` finds WAL reaching the repository.
 */
import type pg from 'pg';
import { backupsIn, type PgBackRest, runPgBackRest } from './pgbackrest.js';

export interface Inventory { backups_listed: number; archive_check: { ok: true } | { ok: false; error: string } }

export async function takeInventory(client: Pick<pg.ClientBase, 'query'>, tool: PgBackRest): Promise<Inventory> {
  let listed = 0;
  try {
    const backups = await backupsIn(tool);
    listed = backups.length;
    for (const b of backups) {
      await client.query('select compliance.record_backup($1)', [JSON.stringify({
        type: b.type, ok: true, inventory: true, label: b.label,
        started_at: new Date(b.timestamp.start * 1000).toISOString(), stopped_at: new Date(b.timestamp.stop * 1000).toISOString(),
        size_bytes: b.info.size, repo_size_bytes: b.info.repository.size, wal_start: b.archive.start, wal_stop: b.archive.stop })]);
    }
    await runPgBackRest(tool, ['check']);
  } catch (error) {
    const message = (error as Error).message;
    await client.query('select compliance.record_archive_check(false, $1)', [message]);
    return { backups_listed: listed, archive_check: { ok: false, error: message } };
  }
  await client.query('select compliance.record_archive_check(true)');
  return { backups_listed: listed, archive_check: { ok: true } };
}
