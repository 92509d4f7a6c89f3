/**
 * tRPC instance and the procedure kinds. Every procedure that touches data runs in one
 * transaction that first chooses the database role and sets the request context.
 */
import { fieldWithNul } from './input/nul.js';
import { z } from 'zod';
import { initTRPC, TRPCError } from '@trpc/server';
import type { ReservedSql, Sql, TransactionSql } from 'postgres';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { Identity } from './auth/verify.js';
import { RecordedRefusal, sqlStateOf, toTRPCError } from './errors.js';
import { Refusal } from '../core/refusal.js';
import type { Logger } from '../core/log.js';
import type { DataKeys } from '../core/keys/data-keys.js';

export interface RequestContext {
  sql: Sql;
  dataKeys: DataKeys;
  log: Logger;
  identity: Identity | null;
  authError: string | null;
  clientIp: string | null;
  userAgent: string | null;
  sessionIdleTimeoutSeconds: number;
}

/** `field: what is wrong` for each issue, joined: what a person reads in an error message */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : 'input'}: ${issue.message}`).join('; ');
}

const t = initTRPC
  .context<RequestContext>()
  .meta<OpenApiMeta>()
  .create({
    isDev: false,
    errorFormatter({ shape, error }) {
      // never a stack trace; the SQLSTATE lets a client tell our errors apart; an invalid input
      // is a sentence per field, not zod's issue list encoded as JSON
      const message = error.cause instanceof z.ZodError ? describeIssues(error.cause) : shape.message;
      return { ...shape, message, data: { code: shape.data.code, httpStatus: shape.data.httpStatus, sqlstate: sqlStateOf(error) ?? null } };
    },
  });

export const router = t.router;

/** every procedure refuses U+0000 in any string of its input, on both transports */
const textOnly = t.procedure.use(async ({ getRawInput, next }) => {
  const field = fieldWithNul(await getRawInput());
  if (field !== undefined) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `${field || 'the input'}: contains U+0000 (a NUL character), which a text field cannot hold` });
  }
  return next();
});
export const publicProcedure = textOnly;
export const createCallerFactory = t.createCallerFactory;

type DatabaseRole = 'compliance_app' | 'compliance_dpo' | 'compliance_staff' | 'compliance_approver' | 'compliance_auditor';


/** the database role a request acts in, from its token roles, in order of preference; the first one the token has wins */
function transactional(choices: readonly { role: DatabaseRole; tokenRole: string | null }[]) {
  return t.middleware(async ({ ctx, next }) => {
    const identity = ctx.identity;
    if (!identity) {
      const reason = !ctx.authError ? 'no_token' : ctx.authError === 'token expired' ? 'expired_token' : 'invalid_token';
      await recordRefusal(ctx, reason, ctx.authError);
      throw new TRPCError({ code: 'UNAUTHORIZED', message: ctx.authError ?? 'a bearer token is required' });
    }
    const role = choices.find((c) => c.tokenRole === null || identity.roles.includes(c.tokenRole))?.role;
    if (!role) {
      const needs = choices.map((c) => c.tokenRole).join(' or ');
      await recordRefusal(ctx, 'forbidden', `needs the ${needs} role`);
      throw new TRPCError({ code: 'FORBIDDEN', message: `this operation needs the ${needs} role` });
    }
    // one connection, one transaction: committed only when the procedure succeeds. A
    // deadlock or serialization failure is the database asking for the whole transaction to
    // run again; after the last attempt the client gets 409.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await runTransaction(ctx, identity, role, (tx) => next({ ctx: { tx, identity } }));
      } catch (error) {
        const mapped = toTRPCError(error);
        if (attempt < MAX_ATTEMPTS && RETRYABLE.has(sqlStateOf(mapped) ?? '')) continue;
        if (mapped.code === 'INTERNAL_SERVER_ERROR') ctx.log.error({ err: error }, 'request failed');
        // a master key that is missing or wrong is the operator's to fix: say so where they look
        if (sqlStateOf(mapped) === 'PHIKY') ctx.log.error({ sqlstate: 'PHIKY' }, mapped.message);
        if (sqlStateOf(mapped) === 'SESXP') {
          // the expiry itself must stick: close the session outside the failed transaction
          await closeExpiredSession(ctx, identity).catch(() => undefined);
          await recordRefusal(ctx, 'session_expired', null);
        } else if (mapped.code === 'FORBIDDEN' && !(mapped.cause instanceof RecordedRefusal)) {
          await recordRefusal(ctx, 'forbidden', sqlStateOf(mapped) ?? null);
        }
        throw mapped;
      }
    }
  });
}

const MAX_ATTEMPTS = 3;
const RETRYABLE = new Set(['40001', '40P01']);

async function runTransaction<R extends { ok: boolean }>(
  ctx: RequestContext, identity: Identity, role: DatabaseRole, procedure: (tx: ReservedSql) => Promise<R>,
): Promise<R> {
  // the opening statements go out pipelined in one write; the first failure rejects
  const tx = await ctx.sql.reserve();
  try {
    await Promise.all([
      tx`begin`,
      tx`set local role compliance_app`,
      tx`select compliance.open_request(${identity.subject}, ${identity.roles}::text[], ${ctx.clientIp}::inet,
           ${ctx.userAgent}, ${identity.sessionId}::uuid, make_interval(secs => ${ctx.sessionIdleTimeoutSeconds}),
           ${identity.username ?? null}, ${identity.email ?? null}, ${identity.name ?? null})`,
      ...(role === 'compliance_app' ? [] : [tx.unsafe(`set local role ${role}`)]),
    ]);
    const result = await procedure(tx);
    if (!result.ok) {
      // a database error inside the procedure arrives wrapped as an internal error
      const error = (result as unknown as { error: TRPCError }).error;
      const recorded = error.cause instanceof RecordedRefusal || (error.cause instanceof Refusal && error.cause.recorded);
      if (recorded) await tx`commit`;
      throw error.code === 'INTERNAL_SERVER_ERROR' && error.cause ? error.cause : error;
    }
    await tx`commit`;
    return result;
  } catch (error) {
    await tx`rollback`.catch(() => undefined);
    throw error;
  } finally {
    tx.release();
  }
}

/** the first statements of every request transaction: the app role, then who is acting */
async function actAsSubject(tx: ReservedSql | TransactionSql, ctx: RequestContext, identity: Identity) {
  await tx`set local role compliance_app`;
  await tx`select compliance.set_request_context(${identity.subject}, ${identity.roles}::text[],
             ${ctx.clientIp}::inet, ${ctx.userAgent})`;
}

type RefusalReason = 'invalid_token' | 'expired_token' | 'no_token' | 'forbidden' | 'session_expired';

/**
 * A refused request is recorded in a transaction of its own (the request's own is rolled back);
 * the database counts them per source and minute and audits the first of each. A failure to
 * record is logged, and the client still gets its refusal.
 */
async function recordRefusal(ctx: RequestContext, reason: RefusalReason, detail: string | null) {
  await ctx.sql.begin(async (tx) => {
    await tx`set local role compliance_app`;
    await tx`select compliance.record_refusal(${reason}, ${ctx.clientIp}::inet, ${ctx.userAgent}, ${detail})`;
  }).catch((error: unknown) => ctx.log.warn({ err: error, reason }, 'could not record a refused request'));
}

async function closeExpiredSession(ctx: RequestContext, identity: Identity) {
  await ctx.sql.begin(async (tx) => {
    await actAsSubject(tx, ctx, identity);
    await tx`select compliance.close_session(${identity.subject}, ${identity.sessionId}::uuid)`;
  });
}

/** acts for the authenticated subject, as compliance_app: row-level security limits it to its own rows */
export const subjectProcedure = textOnly.use(transactional([{ role: 'compliance_app', tokenRole: null }]));
/** acts as the data protection officer, as compliance_dpo: needs the token role dpo */
export const dpoProcedure = textOnly.use(transactional([{ role: 'compliance_dpo', tokenRole: 'dpo' }]));
/** a workforce member, as compliance_staff: needs the token role staff */
export const staffProcedure = textOnly.use(transactional([{ role: 'compliance_staff', tokenRole: 'staff' }]));
/** approves workforce access and reviews emergency access, as compliance_approver: needs the token role approver */
export const approverProcedure = textOnly.use(transactional([{ role: 'compliance_approver', tokenRole: 'approver' }]));
/** reads the PHI access log: as compliance_dpo for a DPO, else as compliance_auditor for an auditor */
export const reviewerProcedure = textOnly.use(transactional([
  { role: 'compliance_dpo', tokenRole: 'dpo' }, { role: 'compliance_auditor', tokenRole: 'auditor' }]));
