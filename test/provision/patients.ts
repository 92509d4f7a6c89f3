/** A patient as the database tests need one: a profile and one health record (random ciphertext), made as the patient through the SQL API. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { TestDatabase } from './database.js';

/** the patient's profile and one record; `alsoReads`: then reads their records once, as the privacy center does */
export async function patientWithRecord(db: TestDatabase, userId: string, options: { alsoReads?: boolean } = {}): Promise<void> {
  await db.as('compliance_app', { actor: userId }, async (tx) => {
    await tx`select compliance.ensure_profile(${userId})`;
    const [access] = await tx`select * from compliance.phi_access(${userId}, 'patient_request', 'create')`;
    await tx`select compliance.create_health_record(${randomUUID()}::uuid, ${userId}, 'note', 'restricted', 'patient_request', 1,
      ${access!.recorded_at}, ${randomBytes(64)}, ${randomBytes(32)}, ${randomBytes(60)}, 1)`;
    if (options.alsoReads) {
      await tx`select * from compliance.phi_access(${userId}, 'patient_request', 'read')`;
      await tx`select id from compliance.read_health_records(${userId}, 'patient_request')`;
    }
  });
}
