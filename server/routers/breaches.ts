/** The DPO's breach register (GDPR Art. 33/34, HIPAA §164.404-408): each call is one SQL function, audited. */
import { z } from 'zod';
import { LIMITS } from '../limits.js';
import * as s from '../schemas.js';
import { instant } from '../schemas.js';
import { dpoProcedure, dpoStepUpProcedure, router } from '../trpc.js';

const tags = ['dpo'];
const breach = z.object({
  id: z.coerce.string(),
  discovered_at: z.date(),
  description: z.string(),
  data_categories: z.array(z.string()),
  affected_count: z.number(),
  risk_assessment: z.string().nullable(),
  risk_factors: z.array(z.string()),
  notifiable: z.boolean().nullable(),
  not_notifiable_reason: z.string().nullable(),
  status: z.string(),
  opened_at: z.date(),
  opened_by: z.string().nullable(),
  notified_authority_at: z.date().nullable(),
  notified_individuals_at: z.date().nullable(),
  notified_hhs_at: z.date().nullable(),
  notified_media_at: z.date().nullable(),
  closed_at: z.date().nullable(),
  closed_by: z.string().nullable(),
  updated_at: z.date(),
});
type Breach = z.infer<typeof breach>;
const deadline = z.object({
  breach_id: z.coerce.string(), status: z.string(), discovered_at: z.date(), affected_count: z.number(),
  authority_due_at: z.date(), authority: z.string(), authority_hours_left: z.coerce.number(),
  individuals_due_at: z.date(), individuals: z.string(), individuals_hours_left: z.coerce.number(),
  hhs_and_media_required: z.boolean(), hhs: z.string(), media: z.string(),
  // HHS: with the individuals at 500 or more, else 60 days after the year of discovery ends (§164.408(c))
  hhs_due_at: z.date(),
});
/** a register line: the breach as recorded, with its deadlines as they stand now */
const registerEntry = deadline.extend(breach.pick({ description: true, data_categories: true, risk_assessment: true, risk_factors: true,
  notifiable: true, not_notifiable_reason: true, opened_by: true, notified_authority_at: true, notified_individuals_at: true,
  notified_hhs_at: true, notified_media_at: true, closed_at: true, closed_by: true }).shape);
const description = z.string().trim().min(LIMITS.breachDescription.min).max(LIMITS.breachDescription.max);
const breachId = z.coerce.number().int().positive();
const categories = z.array(z.string().min(1).max(64)).max(50);

export const breachRouter = router({
  list: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/breaches', tags, summary: 'Every breach as recorded (description, assessment, notifications) with its notification deadlines and hours left, most urgent first' } })
    .input(z.void())
    .output(z.array(registerEntry))
    .query(async ({ ctx }) => (await ctx.tx`
      select d.*, b.description, b.data_categories, b.risk_assessment, b.risk_factors, b.notifiable, b.not_notifiable_reason, b.opened_by,
             b.notified_authority_at, b.notified_individuals_at, b.notified_hhs_at, b.notified_media_at, b.closed_at, b.closed_by
        from compliance.breach_deadlines() with ordinality d join compliance.breaches b on b.id = d.breach_id
       order by d.ordinality`) as never),
  open: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/breaches', tags, summary: 'Register a breach; the deadlines count from discovered_at' } })
    .input(z.strictObject({ discovered_at: instant, description, data_categories: categories.default([]),
      affected_count: z.number().int().min(0).optional(), risk_assessment: z.string().max(4000).optional(), affected_user_ids: z.array(s.userId).max(10_000).optional() }))
    .output(breach)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Breach[]>`select * from compliance.open_breach(${input.discovered_at}, ${input.description}, ${input.data_categories},
        ${input.affected_count ?? null}, ${input.risk_assessment ?? null}, ${input.affected_user_ids ?? null})`;
      return row!;
    }),
  update: dpoProcedure
    .meta({ openapi: { method: 'PATCH', path: '/v1/dpo/breaches/{breach_id}', tags, summary: 'Update an open breach (description, categories, count, the assessment: risk factors, notifiable or not and why, status, more affected subjects)' } })
    .input(z.strictObject({ breach_id: breachId, description: description.optional(), data_categories: categories.optional(),
      affected_count: z.number().int().min(0).optional(), risk_assessment: z.string().max(4000).optional(),
      risk_factors: z.array(z.string().trim().min(1).max(200)).max(50).optional(),
      notifiable: s.strictBoolean().nullable().optional().describe('true: the authority and the individuals must be told; false: unlikely to result in a risk (give not_notifiable_reason); null: not assessed yet'),
      not_notifiable_reason: z.string().trim().min(1).max(4000).optional(),
      status: z.enum(['open', 'contained']).optional(), add_affected_user_ids: z.array(s.userId).max(10_000).optional(), note: z.string().max(2000).optional() }))
    .output(breach)
    .mutation(async ({ ctx, input }) => {
      const { breach_id, ...changes } = input;
      const [row] = await ctx.tx<Breach[]>`select * from compliance.update_breach(${breach_id}, ${ctx.tx.json(changes as never)})`;
      return row!;
    }),
  notify: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/breaches/{breach_id}/notifications', tags, summary: 'Record that the authority, the individuals, HHS or the media were notified' } })
    .input(z.strictObject({ breach_id: breachId, recipient: z.enum(['authority', 'individuals', 'hhs', 'media']), notified_at: instant.optional() }))
    .output(breach)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Breach[]>`select * from compliance.record_breach_notification(${input.breach_id}, ${input.recipient}, ${input.notified_at ?? new Date()})`;
      return row!;
    }),
  close: dpoStepUpProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/breaches/{breach_id}/closure', tags, summary: 'Close a breach' } })
    .input(z.strictObject({ breach_id: breachId, note: z.string().max(2000).optional() }))
    .output(breach)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx<Breach[]>`select * from compliance.close_breach(${input.breach_id}, ${input.note ?? null})`;
      return row!;
    }),
});
