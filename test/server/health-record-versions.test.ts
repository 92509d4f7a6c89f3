/**
 * A health record's version: each write makes the next one, its integrity code binds it, and the
 * audit chain holds each write's version and code. A read proves it returns the newest version; a
 * DBA who puts an older version back, or replays one onto another record, gets the record withheld
 * and a phi.integrity_failure row (failed_check version or integrity_code).
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { DataKeys } from '../../core/keys/data-keys.js';
import { encryptRecord, integrityCode } from '../../core/keys/record-cipher.js';
import { readRecords, updateRecord } from '../../server/health-records/records.js';
import { expectSqlState } from '../provision/database.js';
import { useOlderRelease } from '../provision/older-release.js';
import { testMasterKeys, useServer } from './harness.js';

const api = useServer();
const RECORDS = '/api/v1/users/me/health-records';

async function create(token: string, data: Record<string, unknown>) {
  const response = await api.call('POST', RECORDS, token, { category: 'note', data });
  expect(response.status, response.text).toBe(200);
  return response.json as { id: string };
}

async function update(token: string, id: string, data: Record<string, unknown>) {
  const response = await api.call('PUT', `${RECORDS}/${id}`, token, { classification: 'restricted', data });
  expect(response.status, response.text).toBe(200);
  return response.json as { version: number };
}

const stored = async (id: string) => (await api.db.admin`select ciphertext, integrity, version, integrity_scheme, updated_at, classification
                                                          from compliance.health_records where id = ${id}`)[0]!;

async function putBack(id: string, row: Awaited<ReturnType<typeof stored>>) {
  await api.db.admin`update compliance.health_records set ciphertext = ${row.ciphertext}, integrity = ${row.integrity},
                       version = ${row.version}, integrity_scheme = ${row.integrity_scheme}, classification = ${row.classification}
                     where id = ${id}`;
  // the trigger set updated_at to now; the DBA puts the old one back too
  await api.db.admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`update compliance.health_records set updated_at = ${row.updated_at} where id = ${id}`;
  });
}

const failures = (patient: string) => api.db.admin`select failure_reason, details ->> 'record_ids' as ids from compliance.audit_logs
                                                   where action = 'phi.integrity_failure' and user_id = ${patient} order by id`;

describe('a health record\'s version', () => {
  it('increases with each write, and the chain records each version with its integrity code', async () => {
    const token = await api.token('user:vera');
    const { id } = await create(token, { bp: '120/80' });
    expect((await update(token, id, { bp: '125/82' })).version).toBe(2);
    expect((await update(token, id, { bp: '130/85' })).version).toBe(3);
    const read = await api.call('GET', `${RECORDS}/${id}`, token);
    expect(read.json).toMatchObject({ version: 3, integrity: 'verified', version_proof: 'audit_chain', version_note: null, data: { bp: '130/85' } });
    const writes = await api.db.admin`select action, details ->> 'version' as version, details ->> 'integrity' as integrity
                                        from compliance.audit_logs where resource_id = ${id} and action in ('phi.created', 'phi.updated') order by id`;
    expect(writes.map((w) => [w.action, w.version])).toEqual([['phi.created', '1'], ['phi.updated', '2'], ['phi.updated', '3']]);
    expect(writes[2]!.integrity).toBe((await stored(id)).integrity.toString('hex'));
  });

  it('withholds a record a DBA rolled back to an older version, updated_at and all, and reports it (failed_check version)', async () => {
    const token = await api.token('user:wim');
    const { id } = await create(token, { allergy: 'penicillin' });
    const first = await stored(id);
    await update(token, id, { allergy: 'none' });
    await putBack(id, first);
    const read = await api.call('GET', `${RECORDS}/${id}`, token);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ version: 1, integrity: 'failed', data: null });
    expect(read.json.problem).toContain('rolled back');
    expect((await failures('user:wim')).map((f) => [f.failure_reason, JSON.parse(f.ids)])).toEqual([['version', [id]]]);
  });

  it('withholds an old version replayed onto another record of the same patient (failed_check integrity_code)', async () => {
    const token = await api.token('user:xia');
    const a = await create(token, { n: 'a' });
    const b = await create(token, { n: 'b' });
    await update(token, b.id, { n: 'b2' });
    await putBack(b.id, await stored(a.id));
    const listed = await api.call('GET', RECORDS, token);
    expect(listed.json.map((r: { id: string; integrity: string }) => [r.id, r.integrity])).toEqual([[a.id, 'verified'], [b.id, 'failed']]);
    expect((await failures('user:xia')).map((f) => f.failure_reason)).toEqual(['integrity_code']);
  });

  it('refuses an update bound to a version another write already made (40001, so the server runs it again)', async () => {
    const token = await api.token('user:yan');
    const { id } = await create(token, { n: 1 });
    const call = (version: number) => api.db.as('compliance_app', { actor: 'user:yan' }, (tx) => tx`select compliance.update_health_record(${id}::uuid,
      'patient_request', 'restricted', 1, ${version}, ${Buffer.alloc(40)}, ${Buffer.alloc(32)})`);
    await expectSqlState(call(1), '40001');
    await expectSqlState(call(3), '40001');
    expect((await stored(id)).version).toBe(1);
  });
});

describe('a record written before records bound their version', () => {
  const release = useOlderRelease('versions', '000043');

  it('reads as verified without a version proof, is proven once updated, and cannot be put back afterwards', async () => {
    const sql = await release.create();
    const asPatient = <T>(fn: (tx: postgres.TransactionSql) => Promise<T>) => sql.begin(async (tx) => {
      await tx`set local role compliance_app`;
      await tx`select compliance.set_request_context('user:zoe', '{}')`;
      return fn(tx);
    }) as Promise<T>;

    // the release before: a scheme-1 code, which binds no version
    const keys = new DataKeys(testMasterKeys());
    const { dataKey, wrapped } = keys.create('user:zoe');
    const binding = { id: randomUUID(), patient: 'user:zoe', category: 'note', keyVersion: 1 };
    const ciphertext = encryptRecord(dataKey.key, binding, Buffer.from('{"n":"old"}'));
    await sql`insert into compliance.user_profiles (user_id) values ('user:zoe')`;
    const [{ now }] = await sql<[{ now: Date }]>`select date_trunc('milliseconds', now()) as now`;
    const code = integrityCode(dataKey.integrityKey, { ...binding, classification: 'restricted', recordedAt: now, version: 1, scheme: 1, ciphertext });
    await asPatient((tx) => tx`select compliance.create_health_record(${binding.id}::uuid, 'user:zoe', 'note', 'restricted', 'patient_request', 1,
      ${now}, ${ciphertext}, ${code}, ${wrapped.wrapped}, ${wrapped.kekVersion})`);
    const legacy = (await sql`select * from compliance.health_records where id = ${binding.id}`)[0]!;

    await release.upgrade();
    const [before] = await asPatient((tx) => readRecords(tx as never, keys, 'user:zoe', 'patient_request'));
    expect(before).toMatchObject({ version: 1, integrity: 'verified', version_proof: 'none', data: { n: 'old' } });
    expect(before!.version_note).toContain('before records bound their version');

    const updated = await asPatient((tx) => updateRecord(tx as never, keys, { id: binding.id, patient: 'user:zoe', purpose: 'patient_request', classification: 'restricted', data: { n: 'new' } }));
    expect(updated).toMatchObject({ version: 2, integrity: 'verified', version_proof: 'audit_chain', data: { n: 'new' } });

    await sql`update compliance.health_records set ciphertext = ${legacy.ciphertext}, integrity = ${legacy.integrity}, version = 1, integrity_scheme = 1
              where id = ${binding.id}`;
    const [after] = await asPatient((tx) => readRecords(tx as never, keys, 'user:zoe', 'patient_request'));
    expect(after).toMatchObject({ integrity: 'failed', data: null });
    expect(after!.problem).toContain('rolled back');
  });
});
