/**
 * The cold archive run (the worker's monthly archive_audit job and `pgcomply archive`): each audit
 * month older than archive_after goes to a bundle, is put in the store, read back from there and
 * verified, and only then recorded (compliance.record_audit_archive, which checks the rows' digest
 * against the partition). Retention drops the partition later; nothing here deletes anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { AnchorKey } from '../anchors/anchors.js';
import { bundleName } from './bundle.js';
import { readBundle } from './read-bundle.js';
import type { ArchiveStore } from './store.js';
import { type ArchivableMonth, BundleError, writeBundle } from './write-bundle.js';

export interface ArchivedMonth {
  partition: string;
  bundle_uri: string;
  bundle_sha256: string;
  rows: number;
  seals: number;
  object_lock: string;
}

export async function archiveAuditMonths(client: Pick<pg.ClientBase, 'query'>, store: ArchiveStore, key: AnchorKey,
  options: { maxMonths?: number } = {}): Promise<ArchivedMonth[]> {
  const { rows: months } = await client.query<ArchivableMonth>(`select p.partition_name, p.range_start, p.range_end, p.range_end + r.retention_period as retain_until
      from compliance.archivable_audit_partitions() p cross join compliance.retention_policies r where r.category = 'audit_logs'
     order by p.range_end limit $1`, [options.maxMonths ?? 12]);
  if (months.length === 0) return [];
  // bundles are signed with the anchor key, which the database then holds to
  await client.query('select compliance.set_anchor_key($1)', [key.fingerprint]);
  const archived: ArchivedMonth[] = [];
  const work = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-archive-'));
  try {
    for (const month of months) {
      const name = bundleName(month.partition_name);
      const written = await writeBundle(client, month, key, path.join(work, name));
      const stored = await store.put(name, written.file, month.retain_until);
      // verified from where it is kept, not from the file just written
      const back = await readBundle(name, await store.get(name), key);
      if (back.sha256 !== written.sha256) throw new BundleError(`${stored.uri} reads back with another SHA-256 than was written`);
      if (back.findings.length) throw new BundleError(`${stored.uri} does not verify: ${back.findings.map((f) => f.detail).join('; ')}`);
      await client.query('select compliance.record_audit_archive($1, $2, $3, $4, $5, $6)',
        [month.partition_name, stored.uri, written.sha256, written.rowsDigest, written.rowCount, key.fingerprint]);
      archived.push({ partition: month.partition_name, bundle_uri: stored.uri, bundle_sha256: written.sha256, rows: written.rowCount,
        seals: written.sealCount, object_lock: stored.objectLock });
      rmSync(written.file, { force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return archived;
}
