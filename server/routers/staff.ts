/**
 * A workforce member (token role staff) and a patient's health records. The database decides:
 * access needs an active access grant, and every attempt, refused ones too, is audited.
 */
import { z } from 'zod';
import { createRecord, readRecords } from '../phi/records.js';
import * as s from '../schemas.js';
import { router, staffProcedure } from '../trpc.js';

const tags = ['staff'];
const path = '/v1/staff/patients/{patient_id}/health-records';

export const staffRouter = router({
  healthRecords: staffProcedure
    .meta({ openapi: { method: 'GET', path, tags, summary: 'A patient\'s health records, for a purpose of use; needs an active access grant (refusals are audited and shown to the patient)' } })
    .input(z.strictObject({ patient_id: s.userId, purpose: s.purposeOfUse.exclude(['patient_request']) }))
    .output(z.array(s.healthRecord))
    .query(({ ctx, input }) => readRecords(ctx.tx, ctx.dataKeys, input.patient_id, input.purpose)),
  createHealthRecord: staffProcedure
    .meta({ openapi: { method: 'POST', path, tags, summary: 'Record a health record for a patient; needs an active access grant' } })
    .input(z.strictObject({ patient_id: s.userId, purpose: s.purposeOfUse.exclude(['patient_request']), category: s.healthRecordCategory,
      classification: s.classification.default('restricted'), data: s.healthRecordData }))
    .output(s.healthRecord)
    .mutation(({ ctx, input }) => createRecord(ctx.tx, ctx.dataKeys, {
      actor: ctx.identity.subject, patient: input.patient_id, purpose: input.purpose, category: input.category,
      classification: input.classification, data: input.data })),
});
