/**
 * Tampering with a sealed audit log as a superuser with triggers off.
 * One database is built and sealed: its oldest month dropped by retention (so the chain starts
 * after removed seals, and one kept seal lists rows that went), a subject erased by a DPO. Each
 * test tampers with its own copy (CREATE DATABASE ... TEMPLATE) and names the finding and the row.
 */
import postgres, { type Sql } from 'postgres';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { verifyIndependently } from '../../core/verify/verifier.js';
import { quiet, useTestDatabase } from '../provision/database.js';

const base = useTestDatabase();
const dana = { actor: 'dpo:dana', roles: ['dpo'] };
const subject = (id: string) => ({ actor: id, ip: '198.51.100.7', userAgent: 'vitest-agent' });

interface Problem { kind: string; seal_no: number | null; row_id?: number }
interface Verdict { ok: boolean; problems: Problem[] }

/** what the base database looked like, for the tampering */
const fixture = {
  firstSeal: 0,
  keptSealDroppedRows: [] as number[],
  bobRow: null as null | { id: number; user_id: string; subject_part_salt: Buffer },
  bobErasureRow: 0,
  neverErasedRow: 0,
  redactedRow: 0,
};

const sealAll = (sql: Sql) => sql`select compliance.seal_audit_log()`;

beforeAll(async () => {
  const { admin } = base;
  await base.as('compliance_app', subject('user:alice'), async (tx) => {
    await tx`select compliance.ensure_profile('user:alice', 'alice', 'alice@example.org', 'Alice')`;
    for (let i = 0; i < 4; i += 1) await tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', ${String(i)}, '{}', 'user:alice')`;
  });
  await admin`select compliance.seal_audit_log(3)`;
  // rows of this month and of next month, alternating in id order, sealed together
  for (let i = 0; i < 2; i += 1) {
    await admin`select compliance.log_event('system.tick', 'system')`;
    await base.as('compliance_owner', null, (tx) => tx`
      insert into compliance.audit_logs (occurred_at, action, category, subject_part_salt, subject_part_digest,
                                         actor_part_salt, actor_part_digest, personal_digest)
      select date_trunc('month', now()) + interval '1 month' + interval '1 day', 'system.future', 'system', s, d.subject, s, d.actor, sha256(d.subject || d.actor)
        from (select '\\x01'::bytea as s) x
        cross join lateral (select compliance_private.audit_subject_digest(x.s, null, null) as subject,
                                   compliance_private.audit_actor_digest(x.s, null, null, null) as actor) d`);
  }
  await sealAll(admin);

  // time passes: retention drops this month (and the empty one before), not the next
  await base.as('compliance_owner', null, (tx) => tx`insert into compliance_private.clock_override (frozen_at)
    select date_trunc('month', now()) + interval '1 month' + p.retention_period + interval '1 hour'
      from compliance.retention_policies p where p.category = 'audit_logs'`);
  await sealAll(admin);
  // a drop record lands in this month, so this month goes on the second run (in production
  // the month being dropped is years old)
  const dropped: number[] = [];
  for (let run = 0; run < 2; run += 1) {
    const [result] = await base.as('compliance_worker', null, (tx) => tx`select compliance.apply_retention('audit_logs') as r`);
    dropped.push(...result!.r.partitions.map((p: { rows: number }) => p.rows));
    await sealAll(admin);
  }
  expect(dropped.some((n) => n > 0)).toBe(true);
  await base.as('compliance_owner', null, (tx) => tx`delete from compliance_private.clock_override`);
  await sealAll(admin);
  const [drop] = await admin`select details from compliance.audit_logs where action = 'audit.partition_dropped'
                              and (details ->> 'rows')::int > 0`;
  fixture.keptSealDroppedRows = drop!.details.dropped_rows_in_kept_seals;
  const [first] = await admin`select min(seal_no)::int as n from compliance.audit_seals`;
  fixture.firstSeal = first!.n;
  expect(fixture.firstSeal).toBeGreaterThan(1); // retention removed the seals of the month it dropped

  // a DPO erases bob; alice, never erased, writes on
  await base.as('compliance_app', subject('user:alice'), (tx) => tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', 'a9', '{}', 'user:alice')`);
  await base.as('compliance_app', subject('user:bob'), async (tx) => {
    await tx`select compliance.ensure_profile('user:bob', 'bob', 'bob@example.org', 'Bob')`;
    await tx`select compliance.log_event('phi.access', 'hipaa', 'patient_record', 'b1', '{}', 'user:bob', ${tx.json({ patient_id: 'p-9' })})`;
  });
  const [bobRow] = await admin`select id::int, user_id, subject_part_salt from compliance.audit_logs
                                where user_id = 'user:bob' and personal_details is not null`;
  fixture.bobRow = bobRow as typeof fixture.bobRow;
  await base.as('compliance_dpo', dana, (tx) => tx`select compliance.erase_subject('user:bob', 'Art. 17 request', true)`);
  const [erasure] = await admin`select id::int from compliance.audit_logs where action = 'subject.erased'`;
  fixture.bobErasureRow = erasure!.id;
  const [never] = await admin`select id::int from compliance.audit_logs where user_id = 'user:alice' order by id desc limit 1`;
  fixture.neverErasedRow = never!.id;
  fixture.redactedRow = fixture.bobRow!.id;
  await sealAll(admin);

  const [verdict] = await admin`select * from compliance.verify_audit_log()`;
  expect(verdict!.problems).toEqual([]);
  expect(verdict!.unsealed_rows).toBe('0');
  // copies need the base without sessions
  await admin.end({ timeout: 5 });
});

/** problems as comparable keys, in one order */
const findings = (problems: Problem[]) => problems.map((p) => `${p.kind} seal=${p.seal_no} row=${p.row_id ?? '-'}`).sort();

let copies = 0;
/** a copy of the sealed base, tampered with as a superuser with triggers off, then verified */
async function tampered(change: (sql: Sql) => Promise<unknown>): Promise<Verdict> {
  copies += 1;
  const name = `${base.name}_t${copies}`;
  const maintenance = postgres(inject('maintenanceUrl'), { ...quiet, max: 1 });
  await maintenance.unsafe(`create database "${name}" template "${base.name}"`);
  const sql = postgres(withDatabase(parseDatabaseUrl(inject('maintenanceUrl')), name), { ...quiet, max: 1 });
  try {
    await sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await change(tx as unknown as Sql);
    });
    const [verdict] = await sql`select ok, problems from compliance.verify_audit_log()`;
    // the TypeScript verifier (pgcomply verify) must name the same problems, row for row
    // two slices in worker threads, as a large chain is read: the tamper matrix runs the parallel path
    const independent = await verifyIndependently(withDatabase(parseDatabaseUrl(inject('maintenanceUrl')), name), { parallelism: 2 });
    expect(independent.ok).toBe(verdict!.ok);
    expect(findings(independent.problems)).toEqual(findings((verdict as unknown as Verdict).problems));
    return verdict as unknown as Verdict;
  } finally {
    await sql.end();
    await maintenance.unsafe(`drop database "${name}"`);
    await maintenance.end();
  }
}

describe('the start of the chain', () => {
  it('names the gap when the first seals and their rows are deleted', async () => {
    const verdict = await tampered(async (sql) => {
      const seals = await sql`select seal_no, row_ids from compliance.audit_seals order by seal_no limit 2`;
      for (const seal of seals) {
        await sql`delete from compliance.audit_logs where id = any (${seal.row_ids}::bigint[])`;
        await sql`delete from compliance.audit_seals where seal_no = ${seal.seal_no}`;
      }
    });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'unaccounted_gap', seal_no: fixture.firstSeal + 2 })]);
  });

  it('does not accept a drop record that is not sealed', async () => {
    const verdict = await tampered(async (sql) => {
      const [seal] = await sql`select seal_no, row_ids, seal_hash from compliance.audit_seals order by seal_no limit 1`;
      await sql`delete from compliance.audit_logs where id = any (${seal!.row_ids}::bigint[])`;
      await sql`delete from compliance.audit_seals where seal_no = ${seal!.seal_no}`;
      await sql`select compliance_private.append_audit('audit.partition_dropped', 'system', 'audit_partition', 'forged',
                  jsonb_build_object('seals_removed_through', ${seal!.seal_no}::bigint, 'seal_hash', encode(${seal!.seal_hash}::bytea, 'hex'),
                                     'dropped_rows_in_kept_seals', '[]'::jsonb))`;
    });
    expect(verdict.problems).toContainEqual(expect.objectContaining({ kind: 'unaccounted_gap', seal_no: fixture.firstSeal + 1 }));
  });

  it('names a row deleted from the kept seal that the drop record does not list', async () => {
    expect(fixture.keptSealDroppedRows.length).toBeGreaterThan(0);
    const verdict = await tampered(async (sql) => {
      const [seal] = await sql`select row_ids from compliance.audit_seals order by seal_no limit 1`;
      const kept = (seal!.row_ids as string[]).map(Number).filter((id) => !fixture.keptSealDroppedRows.includes(id));
      await sql`delete from compliance.audit_logs where id = ${kept[0]!}`;
      return kept[0];
    });
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'deleted_row', seal_no: fixture.firstSeal })]);
  });

  it('names the seal when the newest seals are deleted', async () => {
    const verdict = await tampered((sql) => sql`delete from compliance.audit_seals where seal_no = (select max(seal_no) from compliance.audit_seals)`);
    expect(verdict.problems).toContainEqual(expect.objectContaining({ kind: 'missing_seal' }));
  });
});

describe('redaction', () => {
  it('names a row whose actor was rewritten while stamping redacted_at', async () => {
    const id = fixture.neverErasedRow;
    const verdict = await tampered((sql) => sql`update compliance.audit_logs set actor_id = 'dpo:mallory', redacted_at = now() where id = ${id}`);
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'digest_mismatch', row_id: id })]);
    const hidden = await tampered((sql) => sql`update compliance.audit_logs set actor_id = 'dpo:mallory', actor_part_salt = null, redacted_at = now() where id = ${id}`);
    expect(hidden.problems).toContainEqual(expect.objectContaining({ kind: 'redacted_not_empty', row_id: id }));
  });

  it('names a redaction of a row no erasure accounts for', async () => {
    const id = fixture.neverErasedRow;
    const verdict = await tampered((sql) => sql`update compliance.audit_logs
      set user_id = null, personal_details = null, subject_part_salt = null, redacted_at = now() where id = ${id}`);
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'unaccounted_redaction', row_id: id })]);
  });

  it('names erased personal data restored with its old salt', async () => {
    const row = fixture.bobRow!;
    const verdict = await tampered((sql) => sql`update compliance.audit_logs
      set user_id = ${row.user_id}, personal_details = '{"patient_id": "p-9"}', subject_part_salt = ${row.subject_part_salt}, redacted_at = null
      where id = ${row.id}`);
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'unredacted_row', row_id: row.id })]);
  });

  it('names personal data written into a redacted row', async () => {
    const id = fixture.redactedRow;
    const verdict = await tampered((sql) => sql`update compliance.audit_logs set user_id = 'user:eve' where id = ${id}`);
    expect(verdict.problems).toEqual([expect.objectContaining({ kind: 'redacted_not_empty', row_id: id })]);
  });

  it('names the erasure row when its list of redacted rows is altered', async () => {
    const id = fixture.bobErasureRow;
    const verdict = await tampered((sql) => sql`update compliance.audit_logs
      set details = jsonb_set(details, '{redacted_subject_rows}', details -> 'redacted_subject_rows' || to_jsonb(${fixture.neverErasedRow}::bigint))
      where id = ${id}`);
    expect(verdict.problems).toContainEqual(expect.objectContaining({ kind: 'altered_row', row_id: id }));
  });
});

describe('rows and seals rearranged (both verifiers)', () => {
  /** the newest seal holding at least two rows */
  const twoRowSeal = (sql: Sql) => sql`select seal_no, row_ids from compliance.audit_seals where row_count >= 2 order by seal_no desc limit 1`;

  it('names a row the seal does not list as forged, and the seal that was edited to drop it', async () => {
    const verdict = await tampered(async (sql) => {
      const [seal] = await twoRowSeal(sql);
      await sql`update compliance.audit_seals set row_ids = row_ids[2:], row_hashes = substring(row_hashes from 33), row_count = row_count - 1
                 where seal_no = ${seal!.seal_no}`;
    });
    expect(verdict.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['forged_row', 'altered_seal']));
  });

  it('names rows whose sealed order was swapped', async () => {
    const verdict = await tampered(async (sql) => {
      const [seal] = await twoRowSeal(sql);
      await sql`update compliance.audit_seals set row_ids = array[row_ids[2], row_ids[1]] || row_ids[3:],
                   row_hashes = substring(row_hashes from 33 for 32) || substring(row_hashes from 1 for 32) || substring(row_hashes from 65)
                 where seal_no = ${seal!.seal_no}`;
    });
    expect(verdict.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['reordered_row', 'altered_seal']));
  });

  it('names a broken chain when a seal no longer points at the one before it', async () => {
    const verdict = await tampered(async (sql) => {
      const [seal] = await sql`select seal_no from compliance.audit_seals order by seal_no desc limit 1 offset 1`;
      await sql`update compliance.audit_seals set previous_hash = sha256(previous_hash) where seal_no = ${seal!.seal_no}`;
    });
    expect(verdict.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['broken_chain', 'altered_seal']));
  });

  it('agrees with the SQL verifier on the untouched chain', async () => {
    const verdict = await tampered(async () => undefined);
    expect(verdict.ok).toBe(true);
  });
});

