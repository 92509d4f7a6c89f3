/**
 * Key rotation: every data key not yet wrapped by the newest master key is unwrapped with the
 * master key that wrapped it and wrapped again with the newest. Records' ciphertext and
 * integrity codes do not change (both depend on the data key only). Each batch is its own
 * transaction, so a rotation stopped halfway loses nothing and a rerun finishes it; once it
 * reports 0 remaining, the old master keys can be removed from PHI_MASTER_KEY.
 */
import type { Sql } from 'postgres';
import type { MasterKeys } from '../../core/keys/master-keys.js';

const BATCH = 500;

export interface RotationResult {
  kekVersion: number;
  rewrapped: number;
  remaining: number;
}

/** `sql` connects as the worker (compliance_worker may call the rotation functions) */
export async function rotateDataKeys(sql: Sql, keys: MasterKeys, onBatch: (done: number) => void = () => undefined): Promise<RotationResult> {
  const target = keys.currentVersion;
  let rewrapped = 0;
  for (;;) {
    const done = await sql.begin(async (tx) => {
      const batch = await tx<{ user_id: string; key_version: number; wrapped_key: Buffer; wrapped_by: number }[]>`
        select * from compliance.subject_keys_to_rewrap(${target}, ${BATCH})`;
      let count = 0;
      for (const row of batch) {
        const context = { patient: row.user_id, keyVersion: row.key_version };
        const dataKey = keys.unwrap(row.wrapped_key, context, row.wrapped_by);
        const [stored] = await tx<{ ok: boolean }[]>`
          select compliance.rewrap_subject_key(${row.user_id}, ${row.key_version}, ${row.wrapped_by}, ${keys.wrap(dataKey, context, target)}, ${target}) as ok`;
        if (stored!.ok) count += 1;
      }
      return { count, size: batch.length };
    });
    rewrapped += done.count;
    onBatch(rewrapped);
    if (done.size < BATCH) break;
  }
  const [row] = await sql<{ remaining: string }[]>`
    select (select count(*) from compliance.subject_keys_to_rewrap(${target}, 100000)) as remaining,
           compliance.record_phi_key_rotation(${target}, ${rewrapped})`;
  return { kekVersion: target, rewrapped, remaining: Number(row!.remaining) };
}
