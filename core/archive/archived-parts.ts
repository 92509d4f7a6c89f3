/**
 * The personal parts kept in compliance.audit_archived_parts, checked against the bundles that
 * hold the rest of their rows: each part belongs to a row of the bundle of its month, with the
 * digest the row hash covers; a part with its salt recomputes to its digest; a redacted part is
 * empty. What the export and erasure trust there is then what the chain vouches for.
 */
import type { Sql } from 'postgres';
import { sha256 } from '../verify/hashing.js';
import { partDigest } from './bundle.js';
import type { ArchiveFinding, ReadBundle } from './read-bundle.js';

interface PartRow {
  id: string;
  partition_name: string;
  personal_digest: Buffer;
  subject_part_digest: Buffer | null;
  actor_part_digest: Buffer | null;
  personal_salt: Buffer | null;
  subject_part_salt: Buffer | null;
  actor_part_salt: Buffer | null;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  personal_details: string | null;
}

export async function archivedPartFindings(live: Sql, bundles: ReadBundle[]): Promise<ArchiveFinding[]> {
  const byPartition = new Map(bundles.filter((b) => b.header).map((b) => [b.header!.partition, b]));
  if (byPartition.size === 0) return [];
  const parts = await live<PartRow[]>`select id::text, partition_name, personal_digest, subject_part_digest, actor_part_digest, personal_salt,
      subject_part_salt, actor_part_salt, user_id, actor_id, host(ip_address) as ip, user_agent, personal_details::text as personal_details
    from compliance.audit_archived_parts where partition_name = any(${[...byPartition.keys()]}) order by id`;
  const found: ArchiveFinding[] = [];
  for (const part of parts) {
    const bundle = byPartition.get(part.partition_name)!;
    const id = Number(part.id);
    const finding = (kind: ArchiveFinding['kind'], detail: string) => found.push({ kind, bundle: bundle.name, seal_no: null, row_id: id, detail: `audit row ${id}: ${detail}` });
    const digest = bundle.personalDigests.get(id);
    if (digest === undefined) {
      finding('forged_part', 'personal parts are kept for a row the month\'s bundle does not hold');
    } else if (part.personal_digest.toString('hex') !== digest) {
      finding('altered_part', 'the kept personal digest is not the one the row hash covers');
    } else if (part.subject_part_digest === null || part.actor_part_digest === null) {
      // layout 1: one part, one salt
      const empty = [part.user_id, part.actor_id, part.ip, part.user_agent, part.personal_details].every((v) => v === null);
      if (part.personal_salt === null ? !empty
        : !partDigest(part.personal_salt, part.user_id, part.actor_id, part.ip, part.user_agent, part.personal_details).equals(part.personal_digest)) {
        finding(part.personal_salt === null ? 'redacted_not_empty' : 'digest_mismatch', 'its personal part does not match its digest');
      }
    } else if (!sha256(Buffer.concat([part.subject_part_digest, part.actor_part_digest])).equals(part.personal_digest)) {
      finding('altered_part', 'its part digests do not make up its personal digest');
    } else {
      const subject = part.subject_part_salt === null ? part.user_id === null && part.personal_details === null
        : partDigest(part.subject_part_salt, part.user_id, part.personal_details).equals(part.subject_part_digest);
      const actor = part.actor_part_salt === null ? part.actor_id === null && part.ip === null && part.user_agent === null
        : partDigest(part.actor_part_salt, part.actor_id, part.ip, part.user_agent).equals(part.actor_part_digest);
      if (!subject) finding(part.subject_part_salt === null ? 'redacted_not_empty' : 'digest_mismatch', 'the subject\'s part does not match its digest');
      if (!actor) finding(part.actor_part_salt === null ? 'redacted_not_empty' : 'digest_mismatch', 'the actor\'s part does not match its digest');
    }
  }
  return found;
}
