/** The PHI access log for the DPO and the auditor, as FHIR. */
import { z } from 'zod';
import { auditEventBundle, type AccessEvent } from '../health-records/fhir.js';
import * as s from '../schemas.js';
import { instant } from '../schemas.js';
import { reviewerProcedure, router } from '../trpc.js';

const input = z.strictObject({
  patient: s.userId.optional(),
  since: instant.optional(),
  after_id: z.coerce.number().int().min(0).default(0),
  _count: z.coerce.number().int().min(1).max(1000).default(200),
});

export const healthRecordAuditRouter = router({
  auditEvents: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/phi/audit-events', tags: ['phi'],
      summary: 'The PHI access log as a FHIR R4 Bundle of AuditEvent (IHE BALP): reads, writes, refusals and integrity failures, oldest first from after_id; for the DPO and the auditor, and audited' } })
    .input(input)
    .output(s.document)
    .query(async ({ ctx, input: query }) => {
      const events = await ctx.tx<AccessEvent[]>`select * from compliance.phi_audit_events(${query.patient ?? null}, ${query.since ?? null}, ${query.after_id}, ${query._count})`;
      const params = (afterId: number) => new URLSearchParams({
        ...(query.patient ? { patient: query.patient } : {}), ...(query.since ? { since: query.since.toISOString() } : {}),
        after_id: String(afterId), _count: String(query._count) });
      const last = events.at(-1);
      return auditEventBundle(events, 'pgcomply', {
        self: `/api/v1/phi/audit-events?${params(query.after_id)}`,
        next: events.length === query._count && last ? `/api/v1/phi/audit-events?${params(Number(last.id))}` : null,
      });
    }),
});
