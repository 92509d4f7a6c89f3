/**
 * At start and hourly (ANCHOR_DIR, in development .data/anchors): the newest seal and the erasures since the last anchor, signed
 * (core/anchors/anchors.ts) and appended to ANCHOR_DIR/anchors.jsonl. Point ANCHOR_DIR at
 * storage the database's superuser cannot rewrite (another host, a WORM bucket's mount).
 */
import type { Task } from 'graphile-worker';
import { type AnchorPublishing, publishAnchorWith } from '../../core/anchors/publish.js';
import { workerLog } from '../log.js';

export type { AnchorPublishing } from '../../core/anchors/publish.js';

export function publishAnchor(publishing: AnchorPublishing | undefined): Task {
  return async (payload, helpers) => {
    if (!publishing) return;
    const published = await helpers.withPgClient((client) => publishAnchorWith(client, publishing));
    if (!published) {
      // the start's anchor waits for the first seal (retried); an hourly one has nothing new to say
      if ((payload as { first?: boolean } | null)?.first) throw new Error('no seal yet: the first anchor waits for the sealer');
      return;
    }
    workerLog.info({ task: 'publish_anchor', seal_no: published.anchor.seal_no, erasures: published.anchor.erasures.length, file: published.file }, 'anchor published');
  };
}
