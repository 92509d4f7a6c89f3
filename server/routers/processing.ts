/**
 * The record of processing (GDPR Art. 30), enforced purposes (Art. 18, 21) and the requests sent
 * to other systems (Art. 19), for the DPO. The SQL decides; these routes validate and call it.
 */
import { z } from 'zod';
import * as s from '../schemas.js';
import { processingRecordCsv } from '../processing/record-csv.js';
import { renderProcessingRecord } from '../processing/record-html.js';
import { dpoProcedure, reviewerProcedure, router } from '../trpc.js';

const tags = ['dpo'];
const key = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a key in lower case: letters, digits and _');
const activityKey = z.strictObject({ activity: key });
const systemKey = z.strictObject({ system: key });
const text = (max: number) => z.string().trim().min(1).max(max);

const purpose = z.strictObject({
  purpose: text(200),
  legal_basis: z.enum(['consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interest']).nullable().optional(),
  consent_purpose: z.string().max(63).nullable().optional(),
  direct_marketing: z.boolean().optional(),
});
const recipient = z.strictObject({
  system: key,
  transfer_safeguard: z.enum(['adequacy_decision', 'standard_contractual_clauses', 'binding_corporate_rules', 'derogation']).nullable().optional(),
});
const activityInput = activityKey.extend({
  name: text(200),
  role: z.enum(['controller', 'joint_controller', 'processor']).default('controller'),
  description: z.string().max(4000).default(''),
  purposes: z.array(purpose).max(50),
  tables: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/, 'schema.table')).max(200).default([]),
  recipients: z.array(recipient).max(100).default([]),
  subject_categories: z.array(text(100)).max(50).default([]),
  retention: z.string().max(1000).nullable().optional(),
  security_measures: z.string().max(2000).nullable().optional(),
});
const requestKind = z.enum(['erasure', 'export', 'rectification', 'restriction']);
const systemInput = systemKey.extend({
  name: text(200),
  kind: z.enum(['identity_provider', 'authorization_store', 'processor', 'analytics', 'other']),
  country: z.string().regex(/^[A-Za-z]{2}$/, 'a two-letter country code (ISO 3166-1)'),
  dpa_reference: z.string().max(500).nullable().optional(),
  connector: z.enum(['webhook', 'scim', 'manual', 'none']).default('manual'),
  endpoint_url: z.url().max(2000).nullable().optional(),
  request_kinds: z.array(requestKind).max(4).default(['erasure', 'export', 'rectification', 'restriction']),
  confirm_within_days: z.number().int().min(1).max(31).default(14),
});

const task = z.object({
  id: z.coerce.string(), request_id: z.coerce.string().nullable(), system: z.string(), kind: requestKind, user_id: z.string().nullable(),
  state: z.enum(['pending', 'awaiting_confirmation', 'confirmed', 'failed', 'cancelled']), attempts: z.number(),
  created_at: z.date(), due_at: z.date(), confirmed_at: z.date().nullable(), confirmed_via: z.string().nullable(),
  confirmation_note: z.string().nullable(), last_error: z.string().nullable(), response: z.string().nullable(),
});
const TASK_COLUMNS = 'id, request_id, system, kind, user_id, state, attempts, created_at, due_at, confirmed_at, confirmed_via, confirmation_note, last_error, response';

export const processingRouter = router({
  record: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/processing-record', tags, summary: 'The record of processing activities (GDPR Art. 30): JSON, or format=csv or html as { format, filename, content } (GET /api/v1/dpo/processing-record.{csv,html} downloads the file)' } })
    .input(z.strictObject({ format: z.enum(['json', 'csv', 'html']).default('json') }))
    .output(z.union([z.record(z.string(), z.unknown()), z.object({ format: z.enum(['csv', 'html']), filename: z.string(), content: z.string() })]))
    .query(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.processing_record() as record`;
      const record = row!.record as Record<string, unknown>;
      if (input.format === 'json') return record;
      const day = new Date().toISOString().slice(0, 10);
      return input.format === 'csv'
        ? { format: 'csv' as const, filename: `record_of_processing_${day}.csv`, content: processingRecordCsv(record) }
        : { format: 'html' as const, filename: `record_of_processing_${day}.html`, content: renderProcessingRecord(record) };
    }),
  recordActivity: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/processing-activities', tags, summary: 'Record or replace a processing activity: purposes with legal bases, tables, recipients with transfer safeguards; audited' } })
    .input(activityInput)
    .output(z.object({ activity: z.string(), recorded_at: z.date() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select activity, recorded_at from compliance.record_processing_activity(${input.activity}, ${input.name},
        ${JSON.stringify(input.purposes)}::text::jsonb, ${input.tables}::text[], ${JSON.stringify(input.recipients)}::text::jsonb, ${input.role},
        ${input.description}, ${input.subject_categories}::text[], ${input.retention ?? null}, ${input.security_measures ?? null})`;
      return row as { activity: string; recorded_at: Date };
    }),
  removeActivity: dpoProcedure
    .meta({ openapi: { method: 'DELETE', path: '/v1/dpo/processing-activities/{activity}', tags, summary: 'Remove a processing activity from the record; audited' } })
    .input(activityKey)
    .output(z.object({ removed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.tx`select compliance.remove_processing_activity(${input.activity})`;
      return { removed: true as const };
    }),
  recordSystem: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/processing-systems', tags, summary: 'Record or replace a system or recipient: kind, country, DPA, and how requests reach it (webhook, scim, manual, none); audited' } })
    .input(systemInput)
    .output(z.object({ system: z.string(), recorded_at: z.date() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select system, recorded_at from compliance.record_processing_system(${input.system}, ${input.name}, ${input.kind},
        ${input.country}, ${input.dpa_reference ?? null}, ${input.connector}, ${input.endpoint_url ?? null}, ${input.request_kinds}::text[],
        make_interval(days => ${input.confirm_within_days}))`;
      return row as { system: string; recorded_at: Date };
    }),
  removeSystem: dpoProcedure
    .meta({ openapi: { method: 'DELETE', path: '/v1/dpo/processing-systems/{system}', tags, summary: 'Remove a system from the record (refused while an activity names it or requests were sent to it); audited' } })
    .input(systemKey)
    .output(z.object({ removed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.tx`select compliance.remove_processing_system(${input.system})`;
      return { removed: true as const };
    }),
  permittedSubjects: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/processing-activities/{activity}/permitted-subjects', tags, summary: 'The subjects an activity may process now (consent in force, no objection, no restriction), e.g. a mailing list' } })
    .input(activityKey.extend({ limit: z.coerce.number().int().min(1).max(10_000).default(1000), after: z.string().max(256).optional() }))
    .output(z.object({ user_ids: z.array(z.string()), next_after: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.tx`select user_id from compliance.permitted_subjects(${input.activity})
                                 where ${input.after ?? null}::text is null or user_id > ${input.after ?? null} order by user_id limit ${input.limit}`;
      const userIds = rows.map((r) => r.user_id as string);
      return { user_ids: userIds, next_after: userIds.length === input.limit ? userIds.at(-1)! : null };
    }),
  restrict: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/subjects/{user_id}/restriction', tags, summary: 'Restrict all processing of a subject now (GDPR Art. 18); every system that receives restrictions is told; audited' } })
    .input(z.strictObject({ user_id: s.userId, reason: text(2000) }))
    .output(z.object({ request_id: z.coerce.string(), status: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select id as request_id, status from compliance.restrict_processing(${input.user_id}, ${input.reason})`;
      return row as never;
    }),
  liftLimit: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/processing-limits/{limit_id}/lift', tags, summary: 'Lift an objection or a restriction (tell the subject first, Art. 18(3)); audited' } })
    .input(z.strictObject({ limit_id: z.coerce.number().int().positive(), reason: text(1000) }))
    .output(z.object({ lifted: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.tx`select compliance.lift_processing_limit(${input.limit_id}, ${input.reason})`;
      return { lifted: true as const };
    }),
  tasks: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/propagation-tasks', tags, summary: 'Requests sent to other systems: the open ones (state=open), or those of one request' } })
    .input(z.strictObject({ state: z.enum(['open', 'all']).default('open'), request_id: z.coerce.number().int().positive().optional() }))
    .output(z.array(task))
    .query(async ({ ctx, input }) => (await ctx.tx`
      select ${ctx.tx.unsafe(TASK_COLUMNS)} from compliance.propagation_tasks t
       where (${input.state} = 'all' or t.state in ('pending', 'awaiting_confirmation', 'failed'))
         and (${input.request_id ?? null}::bigint is null or t.request_id = ${input.request_id ?? null})
       order by t.due_at, t.id limit 500`) as never),
  confirmTask: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/propagation-tasks/{task_id}/confirm', tags, summary: 'Record by hand that a system carried out a request, with how it confirmed; the request completes with its last task; audited' } })
    .input(z.strictObject({ task_id: z.coerce.number().int().positive(), note: text(2000) }))
    .output(task)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select ${ctx.tx.unsafe(TASK_COLUMNS)} from compliance.confirm_propagation(${input.task_id}, ${input.note})`;
      return row as never;
    }),
  retryTask: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/propagation-tasks/{task_id}/retry', tags, summary: 'Send a request that failed for good once more; audited' } })
    .input(z.strictObject({ task_id: z.coerce.number().int().positive() }))
    .output(task)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select ${ctx.tx.unsafe(TASK_COLUMNS)} from compliance.retry_propagation(${input.task_id})`;
      return row as never;
    }),
});
