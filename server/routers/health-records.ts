/** The patient's own health records (HIPAA), and who accessed them. */
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { sqlstateCause } from '../errors.js';
import { createRecord, deleteRecord, readRecords, updateRecord } from '../health-records/records.js';
import * as s from '../schemas.js';
import { router, subjectProcedure } from '../trpc.js';

const tags = ['health records'];
const path = '/v1/users/me/health-records';
// a patient's own access is always on their own request
const purpose = 'patient_request';

export const healthRecordsRouter = router({
  list: subjectProcedure
    .meta({ openapi: { method: 'GET', path, tags, summary: 'Your health records, oldest first, decrypted; a record that fails its integrity check comes without its data' } })
    .input(z.void())
    .output(z.array(s.healthRecord))
    .query(({ ctx }) => readRecords(ctx.tx, ctx.dataKeys, ctx.identity.subject, purpose)),
  get: subjectProcedure
    .meta({ openapi: { method: 'GET', path: `${path}/{record_id}`, tags, summary: 'One of your health records' } })
    .input(z.strictObject({ record_id: z.uuid() }))
    .output(s.healthRecord)
    .query(async ({ ctx, input }) => {
      const [record] = await readRecords(ctx.tx, ctx.dataKeys, ctx.identity.subject, purpose, [input.record_id]);
      if (!record) throw notFound();
      return record;
    }),
  create: subjectProcedure
    .meta({ openapi: { method: 'POST', path, tags, summary: 'Record a health record (encrypted before it reaches the database; at most 1 MiB of JSON)' } })
    .input(z.strictObject({ category: s.healthRecordCategory, classification: s.classification.default('restricted'), data: s.healthRecordData }))
    .output(s.healthRecord)
    .mutation(({ ctx, input }) => createRecord(ctx.tx, ctx.dataKeys, {
      actor: ctx.identity.subject, patient: ctx.identity.subject, purpose, ...input })),
  update: subjectProcedure
    .meta({ openapi: { method: 'PUT', path: `${path}/{record_id}`, tags, summary: 'Replace the content (and classification) of one of your health records' } })
    .input(z.strictObject({ record_id: z.uuid(), classification: s.classification.default('restricted'), data: s.healthRecordData }))
    .output(s.healthRecord)
    .mutation(({ ctx, input }) => updateRecord(ctx.tx, ctx.dataKeys, {
      id: input.record_id, patient: ctx.identity.subject, purpose, classification: input.classification, data: input.data })),
  delete: subjectProcedure
    .meta({ openapi: { method: 'DELETE', path: `${path}/{record_id}`, tags, summary: 'Delete one of your health records' } })
    .input(z.strictObject({ record_id: z.uuid() }))
    .output(z.object({ deleted: z.literal(true), id: z.string() }))
    .mutation(async ({ ctx, input }) => {
      await deleteRecord(ctx.tx, ctx.identity.subject, purpose, input.record_id);
      return { deleted: true as const, id: input.record_id };
    }),
});

export const accessLog = subjectProcedure
  .meta({ openapi: { method: 'GET', path: '/v1/users/me/access-log', tags,
    summary: 'Who accessed your data: every access to your health records and every refused attempt, and every action the DPO or the system took about you; newest first, a page at a time (before_id: the last id of the previous page); others_only=true leaves out your own reads of your records' } })
  .input(s.accessLogPage)
  .output(s.accessLogResult)
  .query(async ({ ctx, input }) => {
    const entries = await ctx.tx`select * from compliance.phi_access_log(${input.before_id ?? null}, ${input.page_size}, ${input.others_only})`;
    return s.accessLogOf(entries, input.page_size);
  });

function notFound() {
  return new TRPCError({ code: 'NOT_FOUND', message: 'no health record with that id', cause: sqlstateCause('PHINF') });
}
