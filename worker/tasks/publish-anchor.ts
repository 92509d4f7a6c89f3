/**
 * At start and hourly (ANCHOR_DIR, in development .data/anchors): the newest seal and the erasures since the last anchor, signed
 * (core/anchors/anchors.ts) and appended to ANCHOR_DIR/anchors.jsonl. Point ANCHOR_DIR at
 * storage the database's superuser cannot rewrite (another host, a WORM bucket's mount).
 */
import path from 'node:path';
import type { Task } from 'graphile-worker';
import { ANCHOR_DIGEST_QUERY, ANCHOR_JOURNAL_QUERY, type AnchorKey, anchorRecord, appendAnchor, journalSince, readAnchors, signAnchor, toAnchorState } from '../../core/anchors/anchors.js';
import { workerLog } from '../log.js';

export interface AnchorPublishing {
  dir: string;
  key: AnchorKey;
}

export const ANCHOR_FILE = 'anchors.jsonl';

export function publishAnchor(publishing: AnchorPublishing | undefined): Task {
  return async (payload, helpers) => {
    if (!publishing) return;
    const file = path.join(publishing.dir, ANCHOR_FILE);
    const since = journalSince(readAnchors(file));
    const { rows: [digest] } = await helpers.query<{ database: string; seal_no: string; seal_hash: string; last_row_id: string; sealed_at: Date }>(
      ANCHOR_DIGEST_QUERY);
    if (!digest) {
      // the start's anchor waits for the first seal (retried); an hourly one has nothing new to say
      if ((payload as { first?: boolean } | null)?.first) throw new Error('no seal yet: the first anchor waits for the sealer');
      return;
    }
    const { rows: erasures } = await helpers.query<{ subject_digest: string; erased_at: Date }>(ANCHOR_JOURNAL_QUERY, [since]);
    const anchor = signAnchor(toAnchorState(digest.database, digest, erasures), publishing.key);
    appendAnchor(file, anchor);
    // the chain records that this anchor exists outside it (compliance.last_anchor)
    const record = anchorRecord(anchor, publishing.key, file);
    // this worker's key is the anchor key: anchors signed with any other are refused from now on
    await helpers.query('select compliance.set_anchor_key($1)', [publishing.key.fingerprint]);
    await helpers.query('select compliance.record_anchor($1, $2, $3, $4, $5, $6)',
      [record.seal_no, record.seal_hash, record.key_fingerprint, record.signature, JSON.stringify(record.signed), record.destination]);
    workerLog.info({ task: 'publish_anchor', seal_no: anchor.seal_no, erasures: anchor.erasures.length, file }, 'anchor published');
  };
}
