/** An idle session the database found expired (SESXP): closed outside the failed request. */
import type { ReservedSql, TransactionSql } from 'postgres';
import type { Identity } from '../auth/verify.js';
import type { RequestContext } from './request-context.js';

/** the first statements of every request transaction: the app role, then who is acting */
async function actAsSubject(tx: ReservedSql | TransactionSql, ctx: RequestContext, identity: Identity) {
  await tx`select set_config('role', 'compliance_app', true)`;
  await tx`select compliance.set_request_context(${identity.subject}, ${identity.roles}::text[],
             ${ctx.clientIp}::inet, ${ctx.userAgent})`;
}

export async function closeExpiredSession(ctx: RequestContext, identity: Identity) {
  await ctx.sql.begin(async (tx) => {
    await actAsSubject(tx, ctx, identity);
    await tx`select compliance.close_session(${identity.subject}, ${identity.sessionId}::uuid)`;
  });
}
