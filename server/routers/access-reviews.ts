/** The DPO's access review campaigns (SOC 2 CC6.2/CC6.3): each call is one SQL function, audited. */
import { z } from 'zod';
import { LIMITS } from '../limits.js';
import { dpoProcedure, router } from '../trpc.js';

const tags = ['dpo'];
const campaign = z.object({
  id: z.coerce.string(), opened_at: z.date(), due_at: z.date(), completed_at: z.date().nullable(),
  items: z.coerce.number(), decided: z.coerce.number(), kept: z.coerce.number(), revoked: z.coerce.number(), overdue: z.boolean(),
});
const item = z.object({
  id: z.coerce.string(),
  kind: z.enum(['database_login', 'application_actor', 'access_grant']),
  login_name: z.string().nullable(),
  actor_id: z.string().nullable(),
  grant_id: z.coerce.string().nullable(),
  roles: z.array(z.string()),
  granted_by: z.string().nullable(),
  last_used_at: z.date().nullable(),
  decision: z.enum(['keep', 'revoke']).nullable(),
  note: z.string().nullable(),
  decided_by: z.string().nullable(),
  decided_at: z.date().nullable(),
  dba_action: z.string().nullable().describe('For a database login to revoke: the REVOKE statements a DBA runs'),
});
const campaignId = z.coerce.number().int().positive();

export const accessReviewRouter = router({
  list: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/access-reviews', tags, summary: 'Every access review campaign with its completion, newest first' } })
    .input(z.void())
    .output(z.array(campaign))
    .query(async ({ ctx }) => (await ctx.tx`select * from compliance.access_review_campaign_status order by id desc`) as never),
  open: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/access-reviews', tags, summary: 'Open a campaign now (the worker opens one every Monday at 09:00 UTC)' } })
    .input(z.strictObject({ due_in_days: z.number().int().min(1).max(90).default(7) }))
    .output(campaign)
    .mutation(async ({ ctx, input }) => {
      // two statements: the view reads the campaign only after the statement that made it
      const [opened] = await ctx.tx`select id from compliance.open_access_review(make_interval(days => ${input.due_in_days}))`;
      const [row] = await ctx.tx`select * from compliance.access_review_campaign_status where id = ${opened!.id}`;
      return row as never;
    }),
  items: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/access-reviews/{campaign_id}/items', tags, summary: 'A campaign\'s items, their decisions and the DBA\'s statements for revoked logins' } })
    .input(z.strictObject({ campaign_id: campaignId }))
    .output(z.array(item))
    .query(async ({ ctx, input }) => (await ctx.tx`select * from compliance.access_review_items_of(${input.campaign_id})`) as never),
  decide: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/access-reviews/items/{item_id}/decision', tags, summary: 'Keep or revoke one item, with a note; never access you hold or granted' } })
    .input(z.strictObject({ item_id: z.coerce.number().int().positive(), decision: z.enum(['keep', 'revoke']), note: z.string().trim().min(LIMITS.reviewNote.min).max(LIMITS.reviewNote.max) }))
    .output(item.omit({ dba_action: true }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select * from compliance.decide_access_review_item(${input.item_id}, ${input.decision}, ${input.note})`;
      return row as never;
    }),
});
