/**
 * The GDPR Art. 15/20 export of a subject with their health records, which only this server can
 * decrypt: read inside the export's transaction (audited as phi.read, purpose patient_request).
 */
import type { ReservedSql } from 'postgres';
import type { RequestContext } from '../trpc.js';
import { readRecords } from './records.js';

export async function withHealthRecords(ctx: RequestContext & { tx: ReservedSql }, patient: string, document: Record<string, unknown>): Promise<Record<string, unknown>> {
  const records = await readRecords(ctx.tx, ctx.dataKeys, patient, 'patient_request');
  return { ...document, health_records: records };
}
