/**
 * Writes one archivable audit month to a bundle file (core/archive/bundle.ts): the seals from
 * compliance.audit_archive_seals, the rows from compliance.audit_archive_rows through a cursor,
 * each row's hash recomputed here and compared with its seal's before it is written, so a bundle
 * never holds a row its seal does not vouch for.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { constants, createGzip } from 'node:zlib';
import type pg from 'pg';
import type { AnchorKey } from '../anchors/anchors.js';
import { BUNDLE_VERSION, type BundleHeader, isoOfMicros, type RowLine, rowLineHash, type SealLine, signManifest } from './bundle.js';

type Client = Pick<pg.ClientBase, 'query'>;

export interface ArchivableMonth {
  partition_name: string;
  range_start: Date;
  range_end: Date;
  /** when the bundle's object lock may end: the month's end plus the audit log's retention period */
  retain_until: Date;
}

export interface WrittenBundle {
  file: string;
  sha256: string;
  rowsDigest: string;
  rowCount: number;
  sealCount: number;
}

export class BundleError extends Error {}

const FETCH_ROWS = 5000;
const STRETCH_LINES = 32;

export async function writeBundle(client: Client, month: ArchivableMonth, key: AnchorKey, file: string): Promise<WrittenBundle> {
  const { rows: [current] } = await client.query<{ database: string }>('select current_database() as database');
  const database = current!.database;
  const gzip = createGzip({ level: 6 });
  const out = createWriteStream(file, { mode: 0o600 });
  gzip.pipe(out);
  const stored = createHash('sha256');
  gzip.on('data', (chunk: Buffer) => stored.update(chunk));
  const content = createHash('sha256');
  const rowsDigest = createHash('sha256');
  // lines go to the compressor in stretches of STRETCH_LINES, each ended by a full flush: a
  // damaged byte costs one stretch, whose rows the reader names, and it resumes at the next
  // flush point (core/archive/read-bundle.ts). One flush per line halved the writer's speed.
  let pending: string[] = [];
  const flushStretch = async () => {
    if (pending.length === 0) return;
    const room = gzip.write(pending.join(''));
    gzip.flush(constants.Z_FULL_FLUSH);
    pending = [];
    if (!room) await once(gzip, 'drain');
  };
  const write = async (line: object) => {
    const text = `${JSON.stringify(line)}\n`;
    content.update(text);
    pending.push(text);
    if (pending.length >= STRETCH_LINES) await flushStretch();
  };

  try {
    return await fill();
  } catch (error) {
    gzip.destroy();
    out.destroy();
    throw error;
  }

  async function fill(): Promise<WrittenBundle> {
    const header: BundleHeader = { type: 'bundle', version: BUNDLE_VERSION, database, partition: month.partition_name,
      range_start: month.range_start.toISOString(), range_end: month.range_end.toISOString() };
    await write(header);
    const { rows: seals } = await client.query<Omit<SealLine, 'type'>>(
      `select chain, seal_no::int8::float8 as seal_no, layout::int as layout, previous_hash, seal_hash, first_row_id::float8 as first_row_id,
              last_row_id::float8 as last_row_id, last_xact_id::float8 as last_xact_id, row_count, row_ids::float8[] as row_ids, row_hashes,
              rows_elsewhere::float8[] as rows_elsewhere
         from compliance.audit_archive_seals($1)`, [month.partition_name]);
    const sealed = new Map<string, string>();
    for (const seal of seals) {
      await write({ type: 'seal', ...seal });
      seal.row_ids.forEach((id, i) => sealed.set(String(id), seal.row_hashes.slice(i * 64, i * 64 + 64)));
    }

    // the header and seals in stretches of their own: damage to a row's stretch never hides the seals
    await flushStretch();

    let rowCount = 0;
    let first: string | null = null;
    let last: string | null = null;
    await client.query('begin read only');
    try {
      await client.query(`declare archive_rows no scroll cursor for
        select id::text, occurred_at_micros::text, xact_id::text, action, category, resource_type, resource_id, outcome,
               failure_reason, details, personal_digest, subject_part_digest, actor_part_digest
          from compliance.audit_archive_rows($1)`, [month.partition_name]);
      for (;;) {
        const { rows } = await client.query<Omit<RowLine, 'type' | 'occurred_at'>>(`fetch ${FETCH_ROWS} from archive_rows`);
        for (const row of rows) {
          const line: RowLine = { type: 'row', ...row, occurred_at: isoOfMicros(row.occurred_at_micros) };
          const hash = rowLineHash(line);
          if (sealed.get(line.id) !== hash.toString('hex')) {
            throw new BundleError(`audit row ${line.id} does not hash to what its seal lists: verify the chain (pgcomply verify) before archiving`);
          }
          rowsDigest.update(hash);
          await write(line);
          rowCount += 1;
          first ??= line.id;
          last = line.id;
        }
        if (rows.length < FETCH_ROWS) break;
      }
    } finally {
      await client.query('rollback');
    }

    const manifest = signManifest({ type: 'manifest', version: BUNDLE_VERSION, database, partition: month.partition_name, row_count: rowCount,
      seal_count: seals.length, first_row_id: first, last_row_id: last, rows_digest: rowsDigest.digest('hex'), content_sha256: content.digest('hex'),
      written_at: new Date().toISOString(), key_id: key.keyId, key_fingerprint: key.fingerprint }, key);
    await flushStretch();
    gzip.end(`${JSON.stringify(manifest)}\n`);
    await once(out, 'close');
    return { file, sha256: stored.digest('hex'), rowsDigest: manifest.rows_digest, rowCount, sealCount: seals.length };
  }
}
