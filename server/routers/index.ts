import { z } from 'zod';
import { publicProcedure, router } from '../trpc.js';
import { approverRouter } from './approver.js';
import { checksRouter } from './checks.js';
import { dpoRouter } from './dpo.js';
import { evidenceRouter } from './evidence.js';
import { reportRouter } from './reports.js';
import { meRouter } from './me.js';
import { healthRecordAuditRouter } from './health-record-audit.js';
import { staffRouter } from './staff.js';

export const appRouter = router({
  // the liveness probe; its name and path are the API's, kept as published
  health: publicProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/health', tags: ['health'], summary: 'Whether the server and its database answer' } })
    .input(z.void())
    .output(z.object({ status: z.enum(['ok', 'unavailable']), database: z.enum(['ok', 'unreachable']) }))
    .query(async ({ ctx }) => {
      const database = await ctx.sql`select 1`.then(() => 'ok' as const, () => 'unreachable' as const);
      return { status: database === 'ok' ? ('ok' as const) : ('unavailable' as const), database };
    }),
  me: meRouter,
  dpo: dpoRouter,
  staff: staffRouter,
  approver: approverRouter,
  // the health-record access log for reviewers; `phi` is its published name
  phi: healthRecordAuditRouter,
  evidence: evidenceRouter,
  reports: reportRouter,
  checks: checksRouter,
});

export type AppRouter = typeof appRouter;
