/**
 * The request transaction: the database role chosen from the token, the request context opened,
 * the procedure run, committed or rolled back, and run again when the database asks.
 */
import { TRPCError } from '@trpc/server';
import type { ReservedSql } from 'postgres';
import { type Authentication, authenticationOf, InsufficientAuthentication, requireAssurance } from '../auth/assurance.js';
import type { Identity } from '../auth/verify.js';
import { isConnectionLost, isDatabaseUnavailable } from '../../db/unavailable.js';
import { isRecordedRefusal, RETRY_AFTER_SECONDS, sqlStateOf, toTRPCError } from '../errors.js';
import type { RequestContext } from './request-context.js';
import { recordRefusal } from './refusals.js';
import { closeExpiredSession } from './session-expiry.js';

export type DatabaseRole = 'compliance_app' | 'compliance_dpo' | 'compliance_staff' | 'compliance_approver' | 'compliance_auditor';

/** a database role a request may act in, and the token role that grants it (null: any token) */
export interface RoleChoice { role: DatabaseRole; tokenRole: string | null }

/**
 * Runs a procedure for an authenticated request in the database role its token earns (the first
 * of `choices` the token has): one connection, one transaction, committed only when the
 * procedure succeeds, run again after a deadlock or serialization failure. A refusal is recorded.
 */
export async function inRequestTransaction<R extends { ok: boolean }>(ctx: RequestContext, choices: readonly RoleChoice[],
  next: (opts: { ctx: { tx: ReservedSql; identity: Identity } }) => Promise<R>, options: { stepUp?: boolean } = {}): Promise<R> {
  const identity = ctx.identity;
  if (!identity) {
    const reason = !ctx.authError ? 'no_token' : ctx.authError === 'token expired' ? 'expired_token' : 'invalid_token';
    await recordRefusal(ctx, reason, ctx.authError);
    throw new TRPCError({ code: 'UNAUTHORIZED', message: ctx.authError ?? 'a bearer token is required' });
  }
  const choice = choices.find((c) => c.tokenRole === null || identity.roles.includes(c.tokenRole));
  if (!choice) {
    const needs = choices.map((c) => c.tokenRole).join(' or ');
    await recordRefusal(ctx, 'forbidden', `needs the ${needs} role`);
    throw new TRPCError({ code: 'FORBIDDEN', message: `this operation needs the ${needs} role` });
  }
  const role = choice.role;
  if (ctx.assurance) {
    try {
      requireAssurance(ctx.assurance, identity, choice.tokenRole, options.stepUp === true);
    } catch (error) {
      if (!(error instanceof InsufficientAuthentication)) throw error;
      // RFC 9470: 401 with the challenge a client follows back to the identity provider
      ctx.setHeader?.('www-authenticate', error.challenge);
      await recordRefusal(ctx, 'insufficient_authentication', error.message);
      throw new TRPCError({ code: 'UNAUTHORIZED', message: error.message, cause: error });
    }
  }
  // what the token proved goes into every audit row of a privileged request
  const authentication = ctx.assurance && choice.tokenRole !== null ? authenticationOf(ctx.assurance, identity) : null;
  // one connection, one transaction: committed only when the procedure succeeds. A
  // deadlock or serialization failure is the database asking for the whole transaction to
  // run again; after the last attempt the client gets 409.
  const started = Date.now();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await runTransaction(ctx, identity, role, authentication, (tx) => next({ ctx: { tx, identity } }));
    } catch (error) {
      const mapped = toTRPCError(error);
      if (attempt < MAX_ATTEMPTS && RETRYABLE.has(sqlStateOf(mapped) ?? '')) continue;
      if (mapped.code === 'SERVICE_UNAVAILABLE') {
        // lost before COMMIT went out: nothing was applied, so it is run again once the pool has
        // found the new primary; lost while committing: only the client (with its key) may retry
        if (!(error instanceof CommitOutcomeUnknown) && Date.now() - started < UNAVAILABLE_RETRY_MS) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 1_000)));
          continue;
        }
        ctx.setHeader?.('retry-after', String(RETRY_AFTER_SECONDS));
        throw mapped;
      }
      if (mapped.code === 'INTERNAL_SERVER_ERROR') ctx.log.error({ err: error }, 'request failed');
      // a master key that is missing or wrong is the operator's to fix: say so where they look
      if (sqlStateOf(mapped) === 'PHIKY') ctx.log.error({ sqlstate: 'PHIKY' }, mapped.message);
      if (sqlStateOf(mapped) === 'SESXP') {
        // the expiry itself must stick: close the session outside the failed transaction
        await closeExpiredSession(ctx, identity).catch(() => undefined);
        await recordRefusal(ctx, 'session_expired', null);
      } else if (mapped.code === 'FORBIDDEN' && !isRecordedRefusal(mapped)) {
        await recordRefusal(ctx, 'forbidden', sqlStateOf(mapped) ?? null);
      }
      throw mapped;
    }
  }
}

const MAX_ATTEMPTS = 3;
const RETRYABLE = new Set(['40001', '40P01']);
/** a request lost to a failover before its COMMIT is run again for up to five seconds, then answered 503 */
const UNAVAILABLE_RETRY_MS = 5_000;

/** how long a request waits for a pooled connection before it is answered 503 */
const RESERVE_TIMEOUT_MS = 10_000;

/**
 * A connection from the pool, or CONNECT_TIMEOUT (503) when none comes in time: a pool still
 * reconnecting after a failover must not hold a request until its client gives up. A connection
 * that comes later goes straight back.
 */
function reserveWithin(sql: RequestContext['sql'], ms: number): Promise<ReservedSql> {
  const reserving = sql.reserve();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reserving.then((late) => late.release(), () => undefined);
      reject(Object.assign(new Error(`no database connection within ${ms / 1000} s`), { code: 'CONNECT_TIMEOUT' }));
    }, ms);
  });
  return Promise.race([reserving, timeout]).finally(() => clearTimeout(timer));
}

/** the connection was lost after COMMIT was sent: the transaction may or may not have committed */
class CommitOutcomeUnknown extends Error {
  readonly code: string;
  constructor(readonly lost: unknown) {
    super('the connection was lost while committing');
    this.code = (lost as { code?: string }).code ?? 'CONNECTION_CLOSED';
  }
}

async function runTransaction<R extends { ok: boolean }>(
  ctx: RequestContext, identity: Identity, role: DatabaseRole, authentication: Authentication | null, procedure: (tx: ReservedSql) => Promise<R>,
): Promise<R> {
  // the opening statements go out pipelined in one write; the first failure rejects
  const tx = await reserveWithin(ctx.sql, RESERVE_TIMEOUT_MS);
  let lost = false;
  try {
    // roles switch with set_config, which does what SET LOCAL ROLE does: on a Citus cluster every
    // SET LOCAL is repeated on the connections opened to the workers, including those opened as a
    // routine's owner, which may not take the role (docs/CITUS.md)
    await Promise.all([
      tx`begin`,
      tx`select set_config('role', 'compliance_app', true)`,
      tx`select compliance.open_request(${identity.subject}, ${identity.roles}::text[], ${ctx.clientIp}::inet,
           ${ctx.userAgent}, ${identity.sessionId}::uuid, make_interval(secs => ${ctx.sessionIdleTimeoutSeconds}),
           ${identity.username ?? null}, ${identity.email ?? null}, ${identity.name ?? null},
           ${authentication ? JSON.stringify(authentication) : null}::text::jsonb)`,
      // a retried request is applied once: its key is claimed in the transaction that applies it
      ...(ctx.idempotencyKey ? [tx`select compliance.claim_request_key(${ctx.idempotencyKey})`] : []),
      ...(role === 'compliance_app' ? [] : [tx`select set_config('role', ${role}, true)`]),
    ]);
    const result = await procedure(tx);
    if (!result.ok) {
      // a database error inside the procedure arrives wrapped as an internal error
      const error = (result as unknown as { error: TRPCError }).error;
      if (isRecordedRefusal(error)) await tx`commit`;
      throw error.code === 'INTERNAL_SERVER_ERROR' && error.cause ? error.cause : error;
    }
    try {
      await tx`commit`;
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw new CommitOutcomeUnknown(error);
      throw error;
    }
    return result;
  } catch (error) {
    // a connection that is gone rolled back with the server. postgres.js (3.4) would write the
    // ROLLBACK to its closed socket, and release() would put the dead connection back in the pool,
    // where the next query hangs on it and a TypeError escapes every promise: neither is done, and
    // the pool reconnects it on demand
    lost = isConnectionLost(error instanceof CommitOutcomeUnknown ? error.lost : error);
    if (!lost) await tx`rollback`.catch(() => undefined);
    throw error;
  } finally {
    if (!lost) tx.release();
  }
}
