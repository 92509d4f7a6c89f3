/** The DPO's operations from a terminal or the console: retention planned and applied, compliance checks on demand. */
import { z } from 'zod';
import * as s from '../schemas.js';
import { instant } from '../schemas.js';
import { dpoProcedure, router } from '../trpc.js';

const tags = ['dpo'];
const checkResult = z.object({ check_name: z.string(), status: z.enum(['pass', 'fail', 'not_applicable']), measured: s.document.nullable(),
  threshold: s.document.nullable(), detail: z.string() });

export const operationsRouter = router({
  retentionPlan: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/retention/plan', tags, summary: 'A dry run of every enabled retention policy: how many rows each would delete now, and the cutoff' } })
    .input(z.void())
    .output(z.array(s.document))
    .query(async ({ ctx }) => {
      const rows = await ctx.tx<{ plan: Record<string, unknown> }[]>`
        select compliance.apply_retention(p.category, 1, true) as plan from compliance.retention_policies p where p.enabled order by p.category`;
      return rows.map((r) => r.plan);
    }),
  retentionRun: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/retention/{category}/run', tags, summary: 'Apply one category\'s retention now, one batch (call again while deleted equals batch_size)' } })
    .input(z.strictObject({ category: z.string().min(1).max(64), batch_size: z.number().int().min(1).max(10_000).default(1000) }))
    .output(s.document)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.apply_retention(${input.category}, ${input.batch_size}, false) as result`;
      return row!.result as Record<string, unknown>;
    }),
  replayErasures: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/erasures/replay', tags, summary: 'After restoring an older backup: erase again every subject whose digest the journal (from anchors) lists' } })
    .input(z.strictObject({ journal: z.array(z.strictObject({ subject_digest: z.string().regex(/^[0-9a-f]{64}$/), erased_at: instant })).max(1_000_000),
      reason: z.string().min(1).max(1000).default('erasure replayed after a restore') }))
    .output(z.array(z.object({ subject_digest: z.string(), erased_at: z.date(), outcome: z.enum(['erased', 'tombstoned', 'already_erased', 'held']) })))
    .mutation(async ({ ctx, input }) => (await ctx.tx`select * from compliance.replay_erasures(${ctx.tx.json(input.journal as never)}, ${input.reason})`) as never),
  runChecks: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/checks/run', tags, summary: 'Run every compliance check now; failures raise alerts; the run is audited' } })
    .input(z.strictObject({ full_verification: z.boolean().default(false) }))
    .output(z.array(checkResult))
    // the query each check measured with stays in compliance.check_results (evidence) for a DBA:
    // the API answers with what was measured, never SQL text
    .mutation(async ({ ctx, input }) => (await ctx.tx`select check_name, status, measured, threshold, detail
        from compliance.run_compliance_checks('demand', false, ${input.full_verification})`) as never),
});
