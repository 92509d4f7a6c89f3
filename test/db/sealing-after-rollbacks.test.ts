/**
 * A transaction that wrote an audit row and then rolled back (a refusal, an error, a client that
 * gave up) leaves its row id unused. Sealing must treat such ids as part of the next seal's range,
 * so an untouched log verifies whatever the interleaving of writers, rollbacks and seals; gaps the
 * sealer left before it did are listed, not reported as tampering.
 */
import fc from 'fast-check';
import postgres, { type ReservedSql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { verifyIndependently } from '../../core/verify/verifier.js';
import { expectSqlState, useTestDatabase } from '../provision/database.js';
import { useOlderRelease } from '../provision/older-release.js';

const db = useTestDatabase();
const RUNS = Number(process.env.FUZZ_RUNS ?? 0) > 0 ? Math.max(25, Math.round(Number(process.env.FUZZ_RUNS) / 3)) : 20;

type Finding = { kind: string; seal_no: number | null; row_id?: number };
const keys = (findings: Finding[]) => findings.map((p) => `${p.kind}/${p.seal_no}/${p.row_id ?? '-'}`).sort();

/** both verifiers on a database: they must agree, finding for finding */
async function verifyBoth(url: string, sql = db.admin) {
  const [inside] = await sql<{ ok: boolean; problems: Finding[]; notes: Finding[] }[]>`select ok, problems, notes from compliance.verify_audit_log()`;
  const outside = await verifyIndependently(url, { parallelism: 1 });
  expect(keys(outside.problems)).toEqual(keys(inside!.problems));
  expect(keys(outside.notes)).toEqual(keys(inside!.notes));
  return { inside: inside!, outside };
}

describe('sealing around rolled-back audit rows', () => {
  it('verifies after a rollback that left only unused ids between two seals', async () => {
    await db.admin.begin(async (tx) => {
      await tx`select compliance.log_event('system.tick', 'system')`;
      await tx`select compliance.seal_audit_log()`; // the sealer's own view must not matter
      throw new Error('roll back');
    }).catch(() => undefined);
    await db.admin`select compliance.seal_audit_log()`;
    await db.admin`select compliance.log_event('system.tick', 'system')`;
    await db.admin`select compliance.seal_audit_log()`;
    const { inside, outside } = await verifyBoth(db.adminUrl);
    expect(inside).toMatchObject({ ok: true, problems: [], notes: [] });
    expect(outside.ok).toBe(true);
  });

  it('verifies after a refused request (RSRVD) in the middle of a transaction that had written a row', async () => {
    const refused = db.admin.begin(async (tx) => {
      await tx`select compliance.log_event('system.before_refusal', 'system')`;
      await tx`select compliance.log_event('audit.partition_dropped', 'soc2')`;
    });
    await expectSqlState(refused, 'RSRVD');
    await db.admin`select compliance.seal_audit_log()`;
    await db.admin`select compliance.log_event('system.after_refusal', 'system')`;
    await db.admin`select compliance.seal_audit_log()`;
    expect((await verifyBoth(db.adminUrl)).inside.ok).toBe(true);
  });

  it('leaves an untouched log that verifies, for any interleaving of three writers, rollbacks, refusals and the sealer', async () => {
    const connections: ReservedSql[] = [await db.admin.reserve(), await db.admin.reserve(), await db.admin.reserve()];
    try {
      const step = fc.oneof(
        fc.record({ on: fc.integer({ min: 0, max: 2 }), op: fc.constantFrom('begin', 'write', 'write', 'commit', 'rollback', 'refuse') }),
        fc.record({ on: fc.constant(-1), op: fc.constantFrom('seal', 'seal_small') }),
      );
      await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 40 }), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        async (steps, commitAtEnd) => {
          const open = [false, false, false];
          const finish = async (i: number, commit: boolean) => {
            if (!open[i]) return;
            await connections[i]!.unsafe(commit ? 'commit' : 'rollback');
            open[i] = false;
          };
          for (const { on, op } of steps) {
            if (op === 'seal') await db.admin`select compliance.seal_audit_log()`;
            else if (op === 'seal_small') await db.admin`select compliance.seal_audit_log(2, 3)`;
            else {
              const c = connections[on]!;
              if (op === 'begin' && !open[on]) {
                await c.unsafe('begin');
                open[on] = true;
              } else if (op === 'write') await c`select compliance.log_event('system.step', 'system')`;
              else if (op === 'commit' || op === 'rollback') await finish(on, op === 'commit');
              else if (op === 'refuse' && open[on]) {
                await c`select compliance.log_event('system.before_refusal', 'system')`;
                await c`select compliance.log_event('subject.erased', 'gdpr')`.catch(() => undefined);
                await finish(on, false);
              }
            }
          }
          for (let i = 0; i < 3; i += 1) await finish(i, commitAtEnd[i]!);
          await db.admin`select compliance.seal_audit_log(10000, 1000)`;
          const { inside, outside } = await verifyBoth(db.adminUrl);
          expect(inside.problems).toEqual([]);
          expect(inside.ok).toBe(true);
          expect(outside.ok).toBe(true);
          expect(outside.unsealed_rows).toBe(0);
        }), { numRuns: RUNS });
    } finally {
      for (const c of connections) {
        await c.unsafe('rollback').catch(() => undefined);
        c.release();
      }
    }
  }, 240_000);
});

/** a row that rolls back, a seal, a row that commits, a seal: what left a gap before the fix */
async function rollBackThenWrite(sql: postgres.Sql) {
  await sql.begin(async (tx) => {
    await tx`select compliance.log_event('system.tick', 'system')`;
    throw new Error('roll back');
  }).catch(() => undefined);
  await sql`select compliance.seal_audit_log()`;
  await sql`select compliance.log_event('system.tick', 'system')`;
  await sql`select compliance.seal_audit_log()`;
}

describe('a database whose sealer skipped ids before the fix', () => {
  // the release before the fix: the migrations up to 000040
  const release = useOlderRelease('upgrade', '000041');

  it('verifies after migrating, lists the skipped range, and names a row put there since (forged_row)', async () => {
    const sql = await release.create();
    const url = release.url;

    // the old sealer meets an id whose row rolled back, and skips it
    await sql`select compliance.seal_audit_log()`;
    await rollBackThenWrite(sql);
    const [before] = await sql<{ ok: boolean; problems: Finding[] }[]>`select ok, problems from compliance.verify_audit_log()`;
    expect(before!.ok).toBe(false);
    expect(before!.problems.map((p) => p.kind)).toEqual(['broken_chain']);

    await release.upgrade();
    await sql`select compliance.seal_audit_log()`;
    const after = await verifyBoth(url, sql);
    expect(after.inside.ok).toBe(true);
    expect(after.outside.ok).toBe(true);
    expect(after.inside.notes).toEqual([expect.objectContaining({ kind: 'unsealed_id_range' })]);
    const gap = after.inside.notes[0] as unknown as { from: number; to: number };
    expect(gap.to).toBe(gap.from);

    // sealing goes on without a new gap
    await rollBackThenWrite(sql);
    expect((await verifyBoth(url, sql)).inside.ok).toBe(true);

    // a row slipped into the skipped range is no row the sealer ever saw
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`insert into compliance.audit_logs (id, action, category, personal_digest)
               values (${gap.from}, 'system.forged', 'system', sha256(''::bytea))`;
    });
    const forged = await verifyBoth(url, sql);
    expect(forged.inside.ok).toBe(false);
    expect(forged.inside.problems).toEqual([expect.objectContaining({ kind: 'forged_row', row_id: gap.from })]);
  }, 180_000);
});
