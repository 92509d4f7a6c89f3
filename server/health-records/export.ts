/**
 * The GDPR Art. 15/20 export of a subject with their health records, which only this server can
 * decrypt: read inside the export's transaction (audited as phi.read, purpose patient_request).
 */
import type { ReservedSql } from 'postgres';
import type { DataKeys } from '../../core/keys/data-keys.js';
import { readRecords } from './records.js';

/** `request`: the request's transaction and the data keys (a tRPC context has both) */
export async function withHealthRecords(request: { tx: ReservedSql; dataKeys: DataKeys }, patient: string, document: Record<string, unknown>): Promise<Record<string, unknown>> {
  const records = await readRecords(request.tx, request.dataKeys, patient, 'patient_request');
  return { ...document, health_records: records };
}
