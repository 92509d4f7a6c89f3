/**
 * Publishing an anchor: the newest seal and the erasures since the log's last anchor, signed and
 * appended to ANCHOR_DIR/anchors.jsonl, then recorded in the chain (compliance.record_anchor). The
 * worker does it at start and hourly; a restore drill's harness does it to have anchors to check.
 */
import path from 'node:path';
import type pg from 'pg';
import { ANCHOR_DIGEST_QUERY, ANCHOR_FILE, ANCHOR_JOURNAL_QUERY, type Anchor, type AnchorKey, anchorRecord, appendAnchor, journalSince, readAnchors,
  signAnchor, toAnchorState } from './anchors.js';

export interface AnchorPublishing {
  dir: string;
  key: AnchorKey;
}

/** the anchor published, with the file it went to; undefined when the chain has no seal yet */
export async function publishAnchorWith(client: Pick<pg.ClientBase, 'query'>, publishing: AnchorPublishing): Promise<{ anchor: Anchor; file: string } | undefined> {
  const file = path.join(publishing.dir, ANCHOR_FILE);
  const since = journalSince(readAnchors(file));
  const { rows: [digest] } = await client.query<{ database: string; seal_no: string; seal_hash: string; last_row_id: string; sealed_at: Date }>(ANCHOR_DIGEST_QUERY);
  if (!digest) return undefined;
  const { rows: erasures } = await client.query<{ subject_digest: string; erased_at: Date }>(ANCHOR_JOURNAL_QUERY, [since]);
  const anchor = signAnchor(toAnchorState(digest.database, digest, erasures), publishing.key);
  appendAnchor(file, anchor);
  // the chain records that this anchor exists outside it (compliance.last_anchor)
  const record = anchorRecord(anchor, publishing.key, file);
  // this key is the anchor key: anchors signed with any other are refused from now on
  await client.query('select compliance.set_anchor_key($1)', [publishing.key.fingerprint]);
  await client.query('select compliance.record_anchor($1, $2, $3, $4, $5, $6)',
    [record.seal_no, record.seal_hash, record.key_fingerprint, record.signature, JSON.stringify(record.signed), record.destination]);
  return { anchor, file };
}
