/** Refused requests, recorded in a transaction of their own. */
import type { RequestContext } from './request-context.js';

export type RefusalReason = 'invalid_token' | 'expired_token' | 'no_token' | 'forbidden' | 'session_expired' | 'insufficient_authentication';

/**
 * A refused request is recorded in a transaction of its own (the request's own is rolled back);
 * the database counts them per source and minute and audits the first of each. A failure to
 * record is logged, and the client still gets its refusal.
 */
export async function recordRefusal(ctx: RequestContext, reason: RefusalReason, detail: string | null) {
  await ctx.sql.begin(async (tx) => {
    await tx`select set_config('role', 'compliance_app', true)`;
    await tx`select compliance.record_refusal(${reason}, ${ctx.clientIp}::inet, ${ctx.userAgent}, ${detail})`;
  }).catch((error: unknown) => ctx.log.warn({ err: error, reason }, 'could not record a refused request'));
}
