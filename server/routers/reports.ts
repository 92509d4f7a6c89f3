/** Monthly compliance reports for the DPO and the auditor: computed in SQL, rendered here as one self-contained HTML page. */
import { TRPCError } from '@trpc/server';
import type { ReservedSql } from 'postgres';
import { z } from 'zod';
import { renderMonthlyReport, type StoredReport } from '../reports/html.js';
import * as s from '../schemas.js';
import { reviewerProcedure, router } from '../trpc.js';

const tags = ['reports'];
const summary = z.object({
  id: z.coerce.string(), kind: z.string(), period_from: z.date(), period_to: z.date(), generated_at: z.date(),
  complete: z.boolean().describe('false when computed before the month ended'), content_sha256: z.string(),
});
const reportId = z.coerce.number().int().positive();

async function storedReport(tx: ReservedSql, id: number): Promise<StoredReport | undefined> {
  const [row] = await tx<StoredReport[]>`select id, kind, period_from, period_to, generated_at, complete, content, content_sha256
                                          from compliance.reports where id = ${id}`;
  return row;
}

export const reportRouter = router({
  generate: reviewerProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/reports/monthly', tags, summary: 'Compute the report of a calendar month (UTC); its hash goes into the audit chain. The worker does this on day 1 at 09:00 UTC for the month before' } })
    .input(z.strictObject({ month: z.string().regex(/^(19\d\d|[2-9]\d{3})-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM, from 1900 on') }))
    .output(summary.extend({ content: s.document }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select * from compliance.generate_monthly_report(${`${input.month}-01`}::date)`;
      return row as never;
    }),
  list: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/reports', tags, summary: 'Every report computed, newest first' } })
    .input(z.void())
    .output(z.array(summary))
    .query(async ({ ctx }) => (await ctx.tx`select id, kind, period_from, period_to, generated_at, complete, content_sha256
                                             from compliance.reports order by id desc`) as never),
  get: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/reports/{report_id}', tags, summary: 'One report\'s JSON' } })
    .input(z.strictObject({ report_id: reportId }))
    .output(summary.extend({ content: s.document }))
    .query(async ({ ctx, input }) => {
      const row = await storedReport(ctx.tx, input.report_id);
      if (!row) throw notFound(input.report_id);
      return row as never;
    }),
  html: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/reports/{report_id}/html', tags, summary: 'One report as a self-contained HTML page (inline SVG, no fetch, printable)' } })
    .input(z.strictObject({ report_id: reportId }))
    .output(z.object({ html: z.string(), content_sha256: z.string() }))
    .query(async ({ ctx, input }) => {
      const row = await storedReport(ctx.tx, input.report_id);
      if (!row) throw notFound(input.report_id);
      return { html: renderMonthlyReport(row), content_sha256: row.content_sha256 };
    }),
});

function notFound(id: number) {
  return new TRPCError({ code: 'NOT_FOUND', message: `no report ${id}` });
}
