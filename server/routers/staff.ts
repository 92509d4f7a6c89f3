/**
 * A workforce member (token role staff) and a patient's health records. The database decides:
 * access needs an active access grant, and every attempt, refused ones too, is audited.
 */
import { z } from 'zod';
import { createRecord, readRecords } from '../health-records/records.js';
import { LIMITS } from '../limits.js';
import * as s from '../schemas.js';
import { router, staffProcedure, staffStepUpProcedure } from '../trpc.js';

const tags = ['staff'];
const path = '/v1/staff/patients/{patient_id}/health-records';

const grant = s.accessGrant;
type Grant = z.infer<typeof grant>;

export const staffRouter = router({
  requestAccess: staffProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/staff/access-requests', tags, summary: 'Ask for access to a patient\'s health records; nothing is granted until an approver other than you approves' } })
    .input(z.strictObject({ patient_id: s.userId, scope: s.accessScope.default('phi.read'), purpose: s.purposeOfUse.exclude(['patient_request', 'emergency']), reason: s.grantReason }))
    .output(grant)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Grant[]>`select * from compliance.request_access(${input.patient_id}, ${input.scope}, ${input.purpose}, ${input.reason})`;
      return row!;
    }),
  breakGlass: staffStepUpProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/staff/patients/{patient_id}/emergency-access', tags,
      summary: `Emergency (break-glass) access to a patient\'s records: at once, for at most 4 hours, alerted and reviewed afterwards; the reason needs at least ${LIMITS.emergencyReason.min} characters. Called again while active, returns the active grant` } })
    .input(z.strictObject({ patient_id: s.userId, reason: s.emergencyReason, scope: s.accessScope.default('phi.read') }))
    .output(grant)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Grant[]>`select * from compliance.break_glass(${input.patient_id}, ${input.reason}, ${input.scope})`;
      return row!;
    }),
  myGrants: staffProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/staff/access-grants', tags, summary: 'Your access grants and requests, newest first' } })
    .input(z.void())
    .output(z.array(grant))
    .query(async ({ ctx }) => (await ctx.tx<Grant[]>`select * from compliance.my_access_grants()`) as Grant[]),
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
