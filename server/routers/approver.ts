/**
 * Approvers (token role approver): decide workforce access requests and review emergency access.
 * The database refuses an approver deciding their own grant (GRSLF), whatever roles they hold.
 */
import { z } from 'zod';
import * as s from '../schemas.js';
import { approverProcedure, approverStepUpProcedure, router } from '../trpc.js';

const tags = ['approver'];
type Grant = z.infer<typeof s.accessGrant>;

const reviewEntry = z.object({
  grant_id: z.coerce.string(),
  grantee: z.string().nullable(),
  // null once the patient was erased: the review outlives them (HIPAA §164.308(a)(1)(ii)(D))
  patient: z.string().nullable(),
  scope: z.string(),
  reason: z.string(),
  starts_at: z.date(),
  expires_at: z.date(),
  review_due_at: z.date(),
  days_left: z.coerce.number(),
  overdue: z.boolean(),
});

export const approverRouter = router({
  pendingRequests: approverProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/approver/access-requests', tags, summary: 'Access requests waiting for a decision, oldest first' } })
    .input(z.void())
    .output(z.array(s.accessGrant))
    .query(async ({ ctx }) => (await ctx.tx<Grant[]>`select * from compliance.pending_access_requests()`) as Grant[]),
  grant: approverStepUpProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/approver/access-grants', tags, summary: 'Give a workforce member (not yourself) access to a patient\'s records at once, for days (default and maximum in compliance.access_grant_settings, 30 as installed)' } })
    .input(z.strictObject({ grantee: s.userId, patient_id: s.userId, scope: s.accessScope.default('phi.read'),
      purpose: s.purposeOfUse.exclude(['patient_request', 'emergency']), reason: s.grantReason, days: s.grantDays.optional() }))
    .output(s.accessGrant)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Grant[]>`select * from compliance.grant_access(${input.grantee}, ${input.patient_id}, ${input.scope},
        ${input.purpose}, ${input.reason}, ${input.days ?? null})`;
      return row!;
    }),
  approve: approverStepUpProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/approver/access-requests/{grant_id}/approval', tags, summary: 'Approve a request (not your own): access starts now, for days (default 30)' } })
    .input(z.strictObject({ grant_id: s.grantId, days: s.grantDays.optional() }))
    .output(s.accessGrant)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Grant[]>`select * from compliance.approve_access_request(${input.grant_id}, ${input.days ?? null})`;
      return row!;
    }),
  deny: approverProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/approver/access-requests/{grant_id}/denial', tags, summary: 'Deny a request (not your own)' } })
    .input(z.strictObject({ grant_id: s.grantId, note: z.string().max(2000).optional() }))
    .output(s.accessGrant)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Grant[]>`select * from compliance.deny_access_request(${input.grant_id}, ${input.note ?? null})`;
      return row!;
    }),
  revoke: approverProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/approver/access-grants/{grant_id}/revocation', tags, summary: 'End a grant now' } })
    .input(z.strictObject({ grant_id: s.grantId, note: z.string().max(2000).optional() }))
    .output(s.accessGrant)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Grant[]>`select * from compliance.revoke_access_grant(${input.grant_id}, ${input.note ?? null})`;
      return row!;
    }),
  reviewQueue: approverProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/approver/emergency-reviews', tags, summary: 'Emergency accesses awaiting review, most urgent first, with days left and the overdue ones flagged and counted' } })
    .input(z.void())
    .output(z.object({ overdue: z.number(), reviews: z.array(reviewEntry) }))
    .query(async ({ ctx }) => {
      const rows = await ctx.tx<(z.infer<typeof reviewEntry> & { overdue_total: string })[]>`select * from compliance.emergency_review_queue()`;
      return { overdue: Number(rows[0]?.overdue_total ?? 0), reviews: rows.map(({ overdue_total: _, ...row }) => row) };
    }),
  review: approverProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/approver/emergency-reviews/{grant_id}', tags, summary: 'Review an emergency access (not your own): appropriate, or inappropriate (ends it and raises an alert)' } })
    .input(z.strictObject({ grant_id: s.grantId, outcome: z.enum(['appropriate', 'inappropriate']), note: z.string().max(2000).optional() }))
    .output(s.accessGrant)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Grant[]>`select * from compliance.review_emergency_access(${input.grant_id}, ${input.outcome}, ${input.note ?? null})`;
      return row!;
    }),
});
