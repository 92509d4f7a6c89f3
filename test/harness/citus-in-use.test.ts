/**
 * A single node in use that grows into a Citus cluster: pgcomply runs on the coordinator alone,
 * subjects are recorded, asked for and erased there, and then two workers join and setup spreads
 * it. What was written before must keep every promise after: the chain '' verifies, each record
 * that outlives a subject sits in the subject's placement, an erased id stays refused on whichever
 * node its shard is, and an erasure reaches the rows written before the cluster.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CitusCluster, citusCluster } from '../../db/citus-cluster.js';
import { actAs, finishErasuresElsewhere, holdsId, sealEveryChain, verifyEveryChain, workerDump } from '../provision/citus-cluster-tools.js';

const SUBJECTS = 40;
const ERASED_BEFORE = 8;
const dpo: [string, string[]] = ['dpo:before', ['dpo']];

let cluster: CitusCluster;
let db: Sql;

/** the single node in use: subjects with consents and requests, some erased, the log sealed */
async function inUse(single: Sql): Promise<void> {
  for (let n = 0; n < SUBJECTS; n += 1) {
    const subject = `early-${n}`;
    await actAs(single, 'compliance_app', subject, [], async (tx) => {
      await tx`select compliance.ensure_profile(${subject}, ${`${subject}@example.org`})`;
      await tx`select compliance.record_consent(${subject}, 'analytics', true, null)`;
    });
    await actAs(single, 'compliance_dpo', ...dpo, (tx) => tx`select compliance.register_dsr(${subject}, 'rectification')`);
  }
  for (let n = 0; n < ERASED_BEFORE; n += 1) {
    await actAs(single, 'compliance_dpo', ...dpo, (tx) => tx`select compliance.erase_subject(${`early-${n}`}, 'asked', true)`);
  }
  await single`select compliance.seal_audit_log()`;
}

beforeAll(async () => {
  cluster = await citusCluster(mkdtempSync(path.join(os.tmpdir(), 'pgcomply-citus-in-use-')), 2, 32, undefined, inUse);
  db = cluster.connect();
});

afterAll(async () => {
  await db?.end();
  cluster?.stop();
});

const placementOf = async (subject: string) =>
  (await db<{ placement: string }[]>`select compliance_private.placement_of(${subject}) as placement`)[0]!.placement;

describe('a single node in use, spread over a Citus cluster', () => {
  it('keeps its chain \'\' whole, and every chain verifies', async () => {
    await sealEveryChain(db);
    const verdicts = await verifyEveryChain(db);
    expect(verdicts.filter((v) => !v.ok)).toEqual([]);
    const [old] = await db<{ rows: number }[]>`select count(*)::integer as rows from compliance.audit_logs where placement = ''`;
    expect(old!.rows).toBeGreaterThan(SUBJECTS * 3);
  });

  it('moves each request to its subject\'s placement, on the subject\'s node', async () => {
    const requests = await db<{ user_id: string; placement: string }[]>`
      select user_id, placement from compliance.dsr_requests where user_id like 'early-%' and kind = 'rectification'`;
    expect(requests).toHaveLength(SUBJECTS - ERASED_BEFORE);
    for (const request of requests) expect(request.placement).toBe(await placementOf(request.user_id));
    expect(new Set(requests.map((r) => r.placement)).size).toBeGreaterThan(8);
  });

  it('refuses an id erased before the cluster on whichever node its shard is (ERASD)', async () => {
    const placements = new Set<string>();
    for (let n = 0; n < ERASED_BEFORE; n += 1) {
      const subject = `early-${n}`;
      placements.add(await placementOf(subject));
      await expect(actAs(db, 'compliance_app', subject, [], (tx) => tx`select compliance.ensure_profile(${subject}, ${`${subject}@example.org`})`))
        .rejects.toMatchObject({ code: 'ERASD' });
    }
    // the tombstones were all in the placement ''; these subjects' shards are elsewhere
    expect([...placements].filter((placement) => placement !== '').length).toBeGreaterThan(0);
  });

  it('erases a subject recorded before the cluster: the audit rows about them in the chain \'\' are redacted, and no worker holds their id', async () => {
    let subject = '';
    for (let n = ERASED_BEFORE; n < SUBJECTS && !subject; n += 1) if ((await placementOf(`early-${n}`)) !== '') subject = `early-${n}`;
    const [before] = await db<{ rows: number }[]>`
      select count(*)::integer as rows from compliance.audit_logs where placement = '' and user_id = ${subject}`;
    expect(before!.rows).toBeGreaterThanOrEqual(2);

    const erased = await actAs(db, 'compliance_dpo', ...dpo, (tx) =>
      tx<{ result: { erased: boolean } }[]>`select compliance.erase_subject(${subject}, 'asked', true) as result`);
    expect(erased[0]!.result.erased).toBe(true);
    // the rows in the chain '' are on another node: the second transaction redacts them
    const finished = await finishErasuresElsewhere(db);
    expect(finished).toHaveLength(1);
    expect(finished[0]!.audit_rows_redacted).toBeGreaterThanOrEqual(before!.rows);
    const [left] = await db<{ audit: number; requests: number }[]>`
      select (select count(*) from compliance.audit_logs where user_id = ${subject} or actor_id = ${subject})::integer as audit,
             (select count(*) from compliance.dsr_requests where user_id = ${subject})::integer as requests`;
    expect(left).toEqual({ audit: 0, requests: 0 });
    for (const worker of cluster.workers) expect(holdsId(workerDump(worker), subject)).toBe(false);

    await sealEveryChain(db);
    expect((await verifyEveryChain(db)).filter((v) => !v.ok)).toEqual([]);
  });
});
