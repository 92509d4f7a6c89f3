/** The data protection officer: any subject's rights, legal holds, the request register, consent evidence. */
import { z } from 'zod';
import { exportFileName, toCsv, toCsvTable } from '../csv.js';
import { LIMITS } from '../limits.js';
import * as s from '../schemas.js';
import { instant } from '../schemas.js';
import { withHealthRecords } from '../health-records/export.js';
import { dpoProcedure, dpoStepUpProcedure, router } from '../trpc.js';
import { accessReviewRouter } from './access-reviews.js';
import { breachRouter } from './breaches.js';
import { operationsRouter } from './operations.js';
import { personalTablesRouter } from './personal-tables.js';
import { processingRouter } from './processing.js';

const dsrKind = z.enum(['access', 'rectification', 'erasure', 'portability', 'restriction', 'objection']);

const CONSENT_COLUMNS = ['id', 'user_id', 'purpose', 'granted', 'policy_version', 'source', 'recorded_at', 'ip_address', 'user_agent'] as const;

export const dpoRouter = router({
  export: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/subjects/{user_id}/export', tags: ['dpo'], summary: 'A subject\'s data with their decrypted health records (GDPR Art. 15 access or Art. 20 portability), audited; format=csv gives { format, filename, content } with the document as one CSV table' } })
    .input(z.strictObject({ user_id: s.userId, kind: z.enum(['access', 'portability']).default('access'), format: s.exportFormat.default('json') }))
    .output(z.union([s.subjectDocument, s.exportedFile]))
    .query(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.export_subject(${input.user_id}, ${input.kind}) as document`;
      const document = await withHealthRecords(ctx, input.user_id, row!.document as Record<string, unknown>);
      if (input.format === 'json') return document as z.infer<typeof s.subjectDocument>;
      return { format: 'csv' as const, filename: exportFileName(input.user_id, 'csv'), content: toCsv(document) };
    }),
  erase: dpoStepUpProcedure
    .meta({ openapi: { method: 'DELETE', path: '/v1/dpo/subjects/{user_id}', tags: ['dpo'], summary: 'Erase a subject (GDPR Art. 17): needs reason and confirm=true; refused under legal hold' } })
    .input(z.strictObject({ user_id: s.userId, reason: s.erasureReason, confirm: s.confirmation() }))
    .output(s.erasureReceipt)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.erase_subject(${input.user_id}, ${input.reason}, ${input.confirm}) as receipt`;
      ctx.dataKeys.forget(input.user_id);
      return row!.receipt as z.infer<typeof s.erasureReceipt>;
    }),
  subjectOverview: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/subjects/{user_id}', tags: ['dpo'], summary: 'What is held about a subject, as counts per section, with their requests and legal holds; audited (subject.viewed)' } })
    .input(z.strictObject({ user_id: s.userId }))
    .output(s.subjectOverview)
    .query(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.subject_overview(${input.user_id}) as overview`;
      return s.subjectOverview.parse(row!.overview);
    }),
  subjectAccessLog: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/subjects/{user_id}/access-log', tags: ['dpo'], summary: 'A subject\'s access log as they see it, newest first, a page at a time; audited (subject.access_log_read)' } })
    .input(s.accessLogPage.extend({ user_id: s.userId }))
    .output(s.accessLogResult)
    .query(async ({ ctx, input }) => {
      const entries = await ctx.tx`select * from compliance.subject_access_log(${input.user_id}, ${input.before_id ?? null}, ${input.page_size}, ${input.others_only})`;
      return s.accessLogOf(entries, input.page_size);
    }),
  findSubjects: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/subjects', tags: ['dpo'], summary: 'Subjects whose user id, username or e-mail contains query (at least 2 characters), with an active legal hold and open requests; audited' } })
    .input(z.strictObject({ query: z.string().trim().min(LIMITS.subjectQuery.min).max(LIMITS.subjectQuery.max), max_rows: z.coerce.number().int().min(1).max(100).default(20) }))
    .output(z.array(z.object({ user_id: z.string(), username: z.string().nullable(), email: z.string().nullable(), created_at: z.date(),
      legal_hold_reason: z.string().nullable(), legal_hold_placed_at: z.date().nullable(), open_requests: z.number() })))
    .query(async ({ ctx, input }) => (await ctx.tx`select * from compliance.find_subjects(${input.query}, ${input.max_rows})`) as never),
  placeLegalHold: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/subjects/{user_id}/legal-hold', tags: ['dpo'], summary: 'Place a legal hold: retention and erasure stop for the subject' } })
    .input(z.strictObject({ user_id: s.userId, reason: z.string().min(1).max(1000) }))
    .output(z.object({ id: z.coerce.string(), placed_at: z.date() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select id, placed_at from compliance.place_legal_hold(${input.user_id}, ${input.reason})`;
      return row as { id: string; placed_at: Date };
    }),
  releaseLegalHold: dpoStepUpProcedure
    .meta({ openapi: { method: 'DELETE', path: '/v1/dpo/subjects/{user_id}/legal-hold', tags: ['dpo'], summary: 'Release the subject\'s legal hold' } })
    .input(z.strictObject({ user_id: s.userId }))
    .output(z.object({ id: z.coerce.string(), released_at: z.date() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select id, released_at from compliance.release_legal_hold(${input.user_id})`;
      return row as { id: string; released_at: Date };
    }),
  openRequests: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/requests', tags: ['dpo'], summary: 'Open data subject requests, with their deadlines' } })
    .input(z.void())
    .output(z.array(z.object({ id: z.coerce.string(), user_id: z.string().nullable(), kind: z.string(), status: z.string(),
      received_at: z.date(), due_at: z.date(), overdue: z.boolean(), days_left: z.number() })))
    .query(async ({ ctx }) => (await ctx.tx`select * from compliance.open_requests()`) as never),
  registerRequest: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/requests', tags: ['dpo'], summary: 'Register a data subject request received outside the API (mail, phone)' } })
    .input(z.strictObject({ user_id: s.userId, kind: dsrKind, notes: z.string().max(2000).optional() }))
    .output(z.object({ id: z.coerce.string(), due_at: z.date() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select id, due_at from compliance.register_dsr(${input.user_id}, ${input.kind}, ${input.notes ?? null})`;
      return row as { id: string; due_at: Date };
    }),
  completeRequest: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/requests/{id}/completion', tags: ['dpo'], summary: 'Complete or reject a data subject request' } })
    .input(z.strictObject({ id: z.coerce.number().int().positive(), status: z.enum(['completed', 'rejected']).default('completed'), notes: z.string().max(2000).optional() }))
    .output(z.object({ id: z.coerce.string(), status: z.string(), completed_at: z.date() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select id, status, completed_at from compliance.complete_dsr(${input.id}, ${input.status}, ${input.notes ?? null})`;
      return row as never;
    }),
  consents: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/subjects/{user_id}/consents', tags: ['dpo'], summary: 'A subject\'s current consents and their full history' } })
    .input(z.strictObject({ user_id: s.userId }))
    .output(z.object({ current: z.array(s.currentConsent), history: z.array(s.consentRecord) }))
    .query(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.subject_consents(${input.user_id}) as consents`;
      const { current, history } = row!.consents as { current: Record<string, unknown>[]; history: Record<string, unknown>[] };
      // JSON carries times as text: back to dates, as the schema describes them
      const dated = (r: Record<string, unknown>) => ({ ...r, recorded_at: new Date(r.recorded_at as string) });
      return { current: current.map(dated), history: history.map((r) => ({ ...dated(r), id: String(r.id) })) } as never;
    }),
  consentRecordsCsv: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/consent-records', tags: ['dpo'], summary: 'Consent records of a period as CSV, a page at a time (after_id)' } })
    .input(z.strictObject({ from: instant, to: instant, after_id: z.coerce.number().int().min(0).default(0), page_size: z.coerce.number().int().min(1).max(10_000).default(1000) }))
    .output(z.object({ csv: z.string(), rows: z.number(), next_after_id: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.tx`select id, user_id, purpose, granted, policy_version, source, recorded_at, host(ip_address) as ip_address, user_agent
                                from compliance.consent_records_between(${input.from}, ${input.to}, ${input.after_id}, ${input.page_size})`;
      const csv = toCsvTable(CONSENT_COLUMNS, rows as unknown as Record<string, unknown>[]);
      const last = rows.at(-1);
      return { csv, rows: rows.length, next_after_id: rows.length === input.page_size && last ? String(last.id) : null };
    }),
  verifyAuditLog: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/audit-log/verification', tags: ['dpo'], summary: 'Verify the audit log\'s hash chain now (db/AUDIT_HASHING.md)' } })
    .input(z.void())
    .output(z.object({
      ok: z.boolean(),
      seals_checked: z.coerce.number(),
      rows_checked: z.coerce.number(),
      // rows after the newest seal: their personal parts were checked, their presence is not proven yet
      unsealed_rows: z.coerce.number(),
      problems: z.array(z.object({ kind: z.string(), seal_no: z.number().nullable(), row_id: z.number().optional(), detail: z.string() })),
      // what does not fail it: a redaction whose erasure is not sealed yet, ids the sealer skipped before migration 000041
      notes: z.array(z.object({ kind: z.string(), seal_no: z.number().nullable(), row_id: z.number().optional(),
        from: z.number().optional(), to: z.number().optional(), detail: z.string() })),
    }))
    .query(async ({ ctx }) => {
      const [row] = await ctx.tx`select * from compliance.verify_audit_log()`;
      return row as never;
    }),
  breaches: breachRouter,
  accessReviews: accessReviewRouter,
  operations: operationsRouter,
  personalTables: personalTablesRouter,
  processing: processingRouter,
});
