/**
 * Health records through the API: encrypted by the server, integrity-checked on every
 * read, every access and refusal logged and shown to the patient, exported, shredded on erasure,
 * readable after a key rotation and never garbage without one.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { quiet } from '../provision/database.js';
import { DataKeys } from '../../core/keys/data-keys.js';
import { reportMissingMasterKeys } from '../../core/keys/master-keys.js';
import { readRecords } from '../../server/health-records/records.js';
import { rotateDataKeys } from '../../server/health-records/rotate.js';
import { createLogger } from '../../core/log.js';
import { testMasterKeys, useServer } from './harness.js';

const firstKey = randomBytes(32);
const api = useServer({ masterKeys: testMasterKeys({ 1: firstKey }) });
const RECORDS = '/api/v1/users/me/health-records';

async function create(token: string, body: Record<string, unknown>) {
  const response = await api.call('POST', RECORDS, token, body);
  expect(response.status, response.text).toBe(200);
  return response.json as { id: string; recorded_at: string; data: Record<string, unknown> };
}

async function audit(action: string, userId: string) {
  return api.db.admin`select id, action, outcome, failure_reason, actor_id, details from compliance.audit_logs
                       where action = ${action} and user_id = ${userId} order by id`;
}

/** reads as the patient with the given data keys, outside the app: what a server with other master keys would see */
function readWith(keys: DataKeys, patient: string) {
  return api.db.admin.begin(async (tx) => {
    await tx`set local role compliance_app`;
    await tx`select compliance.set_request_context(${patient}, '{}')`;
    return readRecords(tx as never, keys, patient, 'patient_request');
  });
}

describe('a patient\'s health records', () => {
  it('are written, listed, read, updated and deleted over REST and tRPC, each access audited', async () => {
    const token = await api.token('user:hana');
    const created = await create(token, { category: 'lab_result', data: { test: 'HbA1c', value: 6.1, unit: '%' } });
    expect(created).toMatchObject({ category: 'lab_result', classification: 'restricted', integrity: 'verified', recorded_by: 'user:hana' });
    const listed = await api.call('GET', RECORDS, token);
    expect(listed.json).toHaveLength(1);
    expect(listed.json[0].data).toEqual({ test: 'HbA1c', value: 6.1, unit: '%' });
    const updated = await api.call('PUT', `${RECORDS}/${created.id}`, token, { classification: 'confidential', data: { test: 'HbA1c', value: 5.9, unit: '%' } });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.json).toMatchObject({ classification: 'confidential', integrity: 'verified', data: { value: 5.9 }, recorded_at: created.recorded_at });
    const viaTrpc = await api.call('GET', `/trpc/me.health.get?input=${encodeURIComponent(JSON.stringify({ record_id: created.id }))}`, token);
    expect(viaTrpc.json.result.data.data.value).toBe(5.9);
    expect((await api.call('DELETE', `${RECORDS}/${created.id}`, token)).status).toBe(200);
    expect((await api.call('GET', `${RECORDS}/${created.id}`, token)).status).toBe(404);
    const actions = (await api.db.admin`select action from compliance.audit_logs where user_id = 'user:hana' and action like 'phi.%' order by id`).map((r) => r.action);
    // the last GET found nothing: a request that fails writes nothing
    expect(actions).toEqual(['phi.created', 'phi.read', 'phi.updated', 'phi.read', 'phi.read', 'phi.deleted']);
  });

  it('leave neither plaintext nor an unwrapped key in the database', async () => {
    const secret = `diagnosis-${randomBytes(8).toString('hex')}`;
    await create(await api.token('user:ivo'), { category: 'diagnosis', data: { text: secret } });
    const [row] = await api.db.admin`select r.ciphertext, k.wrapped_key, k.kek_version from compliance.health_records r
                                      join compliance_private.subject_keys k using (user_id) where r.user_id = 'user:ivo'`;
    const dataKey = testMasterKeys({ 1: firstKey }).unwrap(row!.wrapped_key, { patient: 'user:ivo', keyVersion: 1 }, row!.kek_version);
    const everything = await api.db.admin`select string_agg(t::text, ' ') as text from compliance.health_records t`;
    const keys = await api.db.admin`select string_agg(t::text, ' ') as text from compliance_private.subject_keys t`;
    for (const text of [everything[0]!.text, keys[0]!.text]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(Buffer.from(secret).toString('hex'));
      expect(text).not.toContain(dataKey.toString('hex'));
      expect(text).not.toContain(firstKey.toString('hex'));
    }
  });

  it('refuse a record moved to another record or patient, or an edited integrity code, and report each', async () => {
    const jo = await api.token('user:jo');
    const a = await create(jo, { category: 'note', data: { n: 'a' } });
    const b = await create(jo, { category: 'note', data: { n: 'b' } });
    const c = await create(jo, { category: 'note', data: { n: 'c' } });
    const other = await create(await api.token('user:kim'), { category: 'note', data: { n: 'kim' } });
    // a's sealed content and code copied onto b; kim's onto c; a's code edited
    await api.db.admin`update compliance.health_records t set ciphertext = s.ciphertext, integrity = s.integrity
                        from compliance.health_records s where s.id = ${a.id} and t.id = ${b.id}`;
    await api.db.admin`update compliance.health_records t set ciphertext = s.ciphertext, integrity = s.integrity
                        from compliance.health_records s where s.id = ${other.id} and t.id = ${c.id}`;
    await api.db.admin`update compliance.health_records set integrity = set_byte(integrity, 0, get_byte(integrity, 0) # 1) where id = ${a.id}`;
    const listed = await api.call('GET', RECORDS, jo);
    expect(listed.status).toBe(200);
    for (const record of listed.json) {
      expect(record).toMatchObject({ integrity: 'failed', data: null });
      expect(record.problem).toContain('integrity check');
    }
    const failures = await audit('phi.integrity_failure', 'user:jo');
    expect(failures.map((f) => f.details.record_ids[0]).sort()).toEqual([a.id, b.id, c.id].sort());
    expect(failures.every((f) => f.outcome === 'failure' && f.failure_reason === 'integrity_code')).toBe(true);
  });

  it('refuse bad input with 4xx and write nothing', async () => {
    const token = await api.token('user:lou');
    const unknown = await api.call('POST', RECORDS, token, { category: 'horoscope', data: { sign: 'leo' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toContain('lab_result');
    const huge = await api.call('POST', RECORDS, token, { category: 'note', data: { text: 'x'.repeat(1024 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.json.message).toContain('1 MiB');
    const extra = await api.call('POST', RECORDS, token, { category: 'note', data: {}, patient: 'user:other' });
    expect(extra.status).toBe(400);
    expect(await api.db.admin`select 1 from compliance.health_records where user_id = 'user:lou'`).toHaveLength(0);
    expect(await api.db.admin`select 1 from compliance_private.subject_keys where user_id = 'user:lou'`).toHaveLength(0);
  });
});

describe('staff, the access log and the FHIR view', () => {
  it('refuse staff (no access grants yet) with a phi.denied row that the patient sees', async () => {
    const patient = await api.token('user:max');
    await create(patient, { category: 'medication', data: { drug: 'metformin' } });
    const staff = await api.token('staff:nia', ['staff']);
    const refused = await api.call('GET', '/api/v1/staff/patients/user:max/health-records?purpose=treatment', staff);
    expect(refused.status).toBe(403);
    expect(refused.json.message).toContain('no_active_grant');
    const written = await api.call('POST', '/api/v1/staff/patients/user:max/health-records', staff, { purpose: 'treatment', category: 'note', data: { x: 1 } });
    expect(written.status).toBe(403);
    expect(await api.db.admin`select 1 from compliance.health_records where user_id = 'user:max'`).toHaveLength(1);
    const denied = await audit('phi.denied', 'user:max');
    expect(denied.map((d) => d.details.intent)).toEqual(['read', 'create']);
    // a token without the staff role never reaches the staff routes
    expect((await api.call('GET', '/api/v1/staff/patients/user:max/health-records?purpose=treatment', patient)).status).toBe(403);

    const log = await api.call('GET', '/api/v1/users/me/access-log', patient);
    expect(log.status).toBe(200);
    const refusals = log.json.entries.filter((e: { action: string }) => e.action === 'phi.denied');
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ actor_id: 'staff:nia', actor_role: 'staff', purpose: 'treatment', outcome: 'failure', failure_reason: 'no_active_grant' });
    expect(log.json.entries[0].id > log.json.entries.at(-1).id || log.json.entries.length === 1).toBe(true);
    const page = await api.call('GET', '/api/v1/users/me/access-log?page_size=1', patient);
    expect(page.json.entries).toHaveLength(1);
    const next = await api.call('GET', `/api/v1/users/me/access-log?page_size=1&before_id=${page.json.next_before_id}`, patient);
    expect(Number(next.json.entries[0].id)).toBeLessThan(Number(page.json.entries[0].id));
  });

  it('give the DPO and the auditor a FHIR Bundle with each read, write and refusal as an AuditEvent', async () => {
    const patient = await api.token('user:ola');
    const record = await create(patient, { category: 'allergy', data: { substance: 'penicillin' } });
    await api.call('GET', `${RECORDS}/${record.id}`, patient, undefined, { 'user-agent': 'ola-app/1.0' });
    await api.call('GET', RECORDS, patient);
    await api.call('GET', '/api/v1/staff/patients/user:ola/health-records?purpose=emergency', await api.token('staff:pia', ['staff']));
    for (const roles of [['dpo'], ['auditor']]) {
      const response = await api.call('GET', '/api/v1/phi/audit-events?patient=user:ola', await api.token('reviewer:quinn', roles));
      expect(response.status, response.text).toBe(200);
      const bundle = response.json;
      expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
      const events = bundle.entry.map((e: { resource: Record<string, any> }) => e.resource);
      expect(events.map((e: any) => `${e.subtype[0].code}/${e.action}/${e.outcome}`)).toEqual(['create/C/0', 'read/R/0', 'search-type/E/0', 'search-type/E/4']);
      for (const event of events) {
        expect(event.resourceType).toBe('AuditEvent');
        expect(event.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
        expect(Date.parse(event.recorded)).not.toBeNaN();
        expect(event.source.type[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4' });
        expect(event.meta.profile[0]).toMatch(/^https:\/\/profiles\.ihe\.net\/ITI\/BALP\/StructureDefinition\/IHE\.BasicAudit\.Patient/);
        const patientEntity = event.entity.find((e: any) => e.role?.code === '1');
        expect(patientEntity).toMatchObject({ what: { reference: 'Patient/user%3Aola' }, type: { code: '1' } });
        const client = event.agent.find((a: any) => a.type.coding[0].code === '110153');
        const server = event.agent.find((a: any) => a.type.coding[0].code === '110152');
        const user = event.agent.find((a: any) => a.requestor === true);
        expect(client.network).toMatchObject({ address: '127.0.0.1', type: '2' });
        expect(server.network.address).toBeTruthy();
        expect(user.who.identifier.value).toMatch(/^(user:ola|staff:pia)$/);
        expect(event.purposeOfEvent[0].coding[0].system).toBe('http://terminology.hl7.org/CodeSystem/v3-ActReason');
      }
      const read = events[1];
      expect(read.entity.find((e: any) => e.role.code === '4').what.identifier.value).toBe(record.id);
      const refusal = events[3];
      expect(refusal).toMatchObject({ outcomeDesc: 'no_active_grant', purposeOfEvent: [{ coding: [{ code: 'ETREAT' }] }] });
    }
    expect((await api.call('GET', '/api/v1/phi/audit-events?patient=user:ola', patient)).status).toBe(403);
    expect((await audit('audit.phi_events_read', 'user:ola'))).toHaveLength(2);
  });
});

describe('exports, erasure and keys', () => {
  it('include the decrypted records in the DPO\'s export, as JSON and CSV', async () => {
    const record = await create(await api.token('user:rae'), { category: 'immunization', data: { vaccine: 'MMR', dose: 2 } });
    const dpo = await api.token('dpo:dana', ['dpo']);
    const json = await api.call('GET', '/api/v1/dpo/subjects/user:rae/export', dpo);
    expect(json.status, json.text).toBe(200);
    expect(json.json.health_records).toMatchObject([{ id: record.id, category: 'immunization', integrity: 'verified', data: { vaccine: 'MMR', dose: 2 } }]);
    const csv = await api.call('GET', '/api/v1/dpo/subjects/user:rae/export?format=csv&kind=portability', dpo);
    expect(csv.json.format).toBe('csv');
    expect(csv.json.content).toContain(`health_records,${record.id},data,"{""vaccine"":""MMR"",""dose"":2}"`);
    const own = await api.call('GET', '/api/v1/users/me/export?format=csv', await api.token('user:rae'));
    expect(own.text).toContain('MMR');
  });

  it('shred the wrapped key on erasure: nothing can return the records afterwards', async () => {
    const token = await api.token('user:sol');
    await create(token, { category: 'note', data: { t: 'before erasure' } });
    const erased = await api.call('DELETE', '/api/v1/dpo/subjects/user:sol?reason=asked&confirm=true', await api.token('dpo:dana', ['dpo']));
    expect(erased.status, erased.text).toBe(200);
    expect(erased.json.deleted).toMatchObject({ health_records: 1, subject_keys: 1 });
    expect(await api.db.admin`select 1 from compliance_private.subject_keys where user_id = 'user:sol'`).toHaveLength(0);
    const after = await api.call('GET', RECORDS, token);
    expect(after.status).toBe(403); // the erased subject cannot act again
    const [dpoRead] = await api.db.admin.begin(async (tx) => {
      await tx`set local role compliance_dpo`;
      await tx`select compliance.set_request_context('dpo:dana', '{dpo}')`;
      return tx`select count(*)::int as n from compliance.read_health_records('user:sol', 'patient_request')`;
    });
    expect(dpoRead!.n).toBe(0);
  });

  it('stay readable after a rotation once the old master key is removed, and say so clearly without one', async () => {
    await create(await api.token('user:tao'), { category: 'vital_sign', data: { bp: '120/80' } });
    await create(await api.token('user:uma'), { category: 'vital_sign', data: { bp: '130/85' } });
    const secondKey = randomBytes(32);
    const onlyNew = new DataKeys(testMasterKeys({ 2: secondKey }));
    // without a rotation, the new key alone reads nothing, and says why
    await expect(readWith(onlyNew, 'user:tao')).rejects.toMatchObject({ kind: 'unavailable', sqlstate: 'PHIKY', message: expect.stringContaining('version 1 is not loaded') });
    const wrongKey = new DataKeys(testMasterKeys({ 1: randomBytes(32) }));
    await expect(readWith(wrongKey, 'user:tao')).rejects.toMatchObject({ message: expect.stringContaining('not the key that wrapped it') });
    const lines: string[] = [];
    const log = Object.assign(createLogger('silent'), { error: (_: unknown, line: string) => lines.push(line) });
    expect(await reportMissingMasterKeys(api.db.admin, testMasterKeys({ 2: secondKey }), log as never)).toEqual([1]);
    expect(lines).toHaveLength(1);

    const before = await api.db.admin`select id, ciphertext, integrity from compliance.health_records order by id`;
    const worker = postgres(api.db.loginUrl('worker'), { ...quiet, max: 1 });
    try {
      const result = await rotateDataKeys(worker, testMasterKeys({ 1: firstKey, 2: secondKey }));
      expect(result.remaining).toBe(0);
      expect(result.rewrapped).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.end();
    }
    const after = await api.db.admin`select id, ciphertext, integrity from compliance.health_records order by id`;
    expect(after).toEqual(before); // no ciphertext touched
    expect((await api.db.admin`select distinct kek_version from compliance_private.subject_keys`).map((r) => r.kek_version)).toEqual([2]);
    const records = await readWith(onlyNew, 'user:uma');
    expect(records).toMatchObject([{ integrity: 'verified', data: { bp: '130/85' } }]);
    expect(await audit('phi.keys_rotated', null as never)).toHaveLength(0); // not about a subject
    const [rotated] = await api.db.admin`select details from compliance.audit_logs where action = 'phi.keys_rotated'`;
    expect(rotated!.details).toMatchObject({ kek_version: 2, remaining: 0 });
  });
});
