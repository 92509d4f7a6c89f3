/**
 * A pg_dump of a database holding health records holds none of their plaintext and
 * no unwrapped key: the records go in through the server's own code (server/health-records/records.ts).
 * pg_dump is chosen as in the backup test (test/provision/pg-tools.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { setupDatabase } from '../../db/setup.js';
import { DataKeys } from '../../core/keys/data-keys.js';
import { keyRing } from '../../core/keys/master-keys.js';
import { createRecord } from '../../server/health-records/records.js';
import { quiet } from '../provision/database.js';
import { chooseServer } from '../provision/pg-tools.js';

describe('pg_dump of a database with health records', () => {
  it('contains no plaintext and no unwrapped data or master key', async () => {
    const roundTrip = await chooseServer('PHI dump test');
    const url = withDatabase(parseDatabaseUrl(roundTrip.maintenanceUrl), `${inject('runPrefix')}_phi_dump`);
    await setupDatabase({ adminUrl: url, loginPassword: inject('loginPassword'), tombstonePepper: { keyring: inject('tombstonePepper') } });
    const masterKey = randomBytes(32);
    const master = keyRing(new Map([[1, masterKey]]));
    const secrets = [`hba1c-${randomBytes(6).toString('hex')}`, `diagnosis-${randomBytes(6).toString('hex')}`];
    const sql = postgres(url, { ...quiet, max: 1 });
    try {
      for (const [index, secret] of secrets.entries()) {
        const patient = `user:patient-${index}`;
        await sql.begin(async (tx) => {
          await tx`set local role compliance_app`;
          await tx`select compliance.open_request(${patient}, '{}', '127.0.0.1', 'dump-test', gen_random_uuid())`;
          await createRecord(tx, new DataKeys(master), { actor: patient, patient, purpose: 'patient_request', category: 'lab_result',
            classification: 'restricted', data: { result: secret } });
        });
      }
      const wrapped = await sql`select user_id, key_version, kek_version, wrapped_key from compliance_private.subject_keys`;
      expect(wrapped).toHaveLength(2);
      const dataKeys = wrapped.map((k) => master.unwrap(k.wrapped_key, { patient: k.user_id, keyVersion: k.key_version }, k.kek_version));
      const dump = execFileSync(roundTrip.pgDump, ['--format=plain', '--no-owner', '-d', url], { maxBuffer: 256 * 1024 * 1024 });
      expect(dump.toString('utf8')).toContain('COPY compliance.health_records');
      const forbidden = [...secrets.flatMap((s) => [s, Buffer.from(s).toString('hex'), Buffer.from(s).toString('base64')]),
        ...[masterKey, ...dataKeys].flatMap((k) => [k.toString('hex'), k.toString('base64')])];
      for (const needle of forbidden) expect(dump.includes(needle), needle).toBe(false);
      for (const key of [masterKey, ...dataKeys]) expect(dump.includes(key)).toBe(false);
    } finally {
      await sql.end();
      // the round trip may have run on the machine's own server, which the run's teardown does not sweep
      const maintenance = postgres(roundTrip.maintenanceUrl, { ...quiet, max: 1 });
      await maintenance.unsafe(`drop database if exists "${new URL(url).pathname.slice(1)}" with (force)`);
      await maintenance.end();
    }
  });
});
