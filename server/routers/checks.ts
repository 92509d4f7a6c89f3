/** The compliance checks' results as stored, for the DPO and auditors: the latest per check and its history. */
import { z } from 'zod';
import { reviewerProcedure, router } from '../trpc.js';

export const checksRouter = router({
  history: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/checks/history', tags: ['checks'], summary: 'Each check\'s result in the newest runs (default 14), newest first per check' } })
    .input(z.strictObject({ runs: z.coerce.number().int().min(1).max(400).default(14) }))
    .output(z.array(z.object({ check_name: z.string(), run_id: z.coerce.string(), started_at: z.date(), trigger: z.string(),
      status: z.enum(['pass', 'fail', 'not_applicable']), detail: z.string(), measured: z.record(z.string(), z.unknown()), threshold: z.record(z.string(), z.unknown()) })))
    .query(async ({ ctx, input }) => (await ctx.tx`select * from compliance.check_history(${input.runs})`) as never),
});
