/**
 * The chain's links: where it starts (seal 1, the checkpoint, or where a sealed drop record says
 * it removed seals), then each seal in order: its number, its previous_hash, and for layout 2 its
 * first row id against where the seal before it ended (a gap migration 000041 recorded is a note).
 */
import type { AccountingRecord, SealerGap } from './accounting.js';
import type { Seal } from './hashing.js';
import type { Note } from './notes.js';
import { problem, type Problem } from './range-check.js';

export interface Links {
  problems: Problem[];
  notes: Note[];
  acceptedGaps: SealerGap[];
  /** the seals whose links were checked */
  checked: Seal[];
  /** the seal number after the last checked, and its hash */
  expectedNo: number;
  previousHash: Buffer;
  /** each layout-1 seal and where its window of (transaction, id) starts */
  layout1Windows: { sealNo: number; from: [number, number] }[];
  /** the first row id after the last layout-2 seal checked; null when none was */
  nextId: number | null;
  /** incremental: the first row id checked */
  rangeFrom: number;
  /** where the layout-1 rows begin */
  start: [number, number];
}

export function checkLinks(seals: Seal[], checkpoint: { seal: Seal; hash: Buffer } | undefined, accounting: AccountingRecord[],
  sealerGaps: SealerGap[], layout2From: number): Links {
  const problems: Problem[] = [];
  const notes: Note[] = [];
  const acceptedGaps: SealerGap[] = [];
  const add = (kind: string, sealNo: number | null, rowId?: number, detail?: string) => problems.push(problem(kind, sealNo, rowId, detail));
  // where the chain starts: at seal 1, or where a sealed drop record says it removed seals
  let expectedNo = 1;
  let previousHash: Buffer = Buffer.alloc(32);
  let from: [number, number] = [0, 0];
  let start: [number, number] = [0, 0];
  let nextId: number | null = null;
  const first = seals[0];
  let rangeFrom = 0;
  if (checkpoint) {
    // the checkpoint's own seal must still hash as it did when it was verified
    if (!checkpoint.seal.sealHash.equals(checkpoint.hash)) {
      add('altered_seal', checkpoint.seal.sealNo, undefined, 'the seal\'s hash differs from the one recorded when it was last verified');
    }
    expectedNo = checkpoint.seal.sealNo + 1;
    previousHash = checkpoint.hash;
    nextId = checkpoint.seal.lastRowId + 1;
    rangeFrom = nextId;
  } else if (first && first.sealNo > 1) {
    expectedNo = first.sealNo;
    previousHash = first.previousHash;
    const drop = accounting.find((r) => r.action === 'audit.partition_dropped'
      && String(r.details.seals_removed_through) === String(first.sealNo - 1) && r.details.seal_hash === first.previousHash.toString('hex'));
    if (!drop) {
      add('unaccounted_gap', first.sealNo, undefined, `the chain starts at seal ${first.sealNo}, and no sealed audit.partition_dropped row says seals up to ${first.sealNo - 1} were removed with that hash`);
    } else if (first.layout === 1) {
      const end = drop.details.seal_end as { xact_id: string; row_id: string };
      from = [Number(end.xact_id), Number(end.row_id)];
      start = from;
    }
  }

  // each seal's links, in chain order (a layout-2 seal's own contents are hashed with its rows); a layout-1 seal's rows are the window after the one before
  const layout1Windows: { sealNo: number; from: [number, number] }[] = [];
  const checked = checkpoint ? seals.filter((x) => x.sealNo >= expectedNo) : seals;
  for (const seal of checked) {
    if (seal.sealNo !== expectedNo) add('missing_seal', expectedNo, undefined, `seals ${expectedNo} to ${seal.sealNo - 1} are missing`);
    if (!seal.previousHash.equals(previousHash)) add('broken_chain', seal.sealNo, undefined, 'previous_hash does not match the hash of the seal before it');
    const gap = seal.layout === 2 && seal.firstRowId! > (nextId ?? layout2From)
      ? sealerGaps.find((g) => g.seal_no === seal.sealNo && g.from === (nextId ?? layout2From) && g.to === seal.firstRowId! - 1) : undefined;
    if (gap) {
      acceptedGaps.push(gap);
      notes.push({ kind: 'unsealed_id_range', seal_no: seal.sealNo, from: gap.from, to: gap.to,
        detail: 'ids no seal covers: before migration 000041 the sealer skipped ids of rolled-back rows' });
    } else if (seal.layout === 2 && seal.firstRowId !== (nextId ?? layout2From)) {
      add('broken_chain', seal.sealNo, undefined, `the seal covers ids from ${seal.firstRowId}, the seal before it ended at ${(nextId ?? layout2From) - 1}`);
    }
    expectedNo = seal.sealNo + 1;
    previousHash = seal.sealHash;
    if (seal.layout === 1) {
      layout1Windows.push({ sealNo: seal.sealNo, from });
      from = [seal.lastXactId!, seal.lastRowId];
    } else {
      nextId = seal.lastRowId + 1;
    }
  }
  return { problems, notes, acceptedGaps, checked, expectedNo, previousHash, layout1Windows, nextId, rangeFrom, start };
}
