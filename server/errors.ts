/** Maps PostgreSQL errors (our SQLSTATEs first, db/ERROR_CODES.md) to tRPC errors a person can act on. */
import { TRPCError } from '@trpc/server';
import { Refusal, type RefusalKind } from '../core/refusal.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
type TRPC_ERROR_CODE_KEY = TRPCError['code'];

const BY_SQLSTATE: Record<string, TRPC_ERROR_CODE_KEY> = {
  UNKSJ: 'NOT_FOUND',
  NOCNV: 'NOT_FOUND',
  NOHLD: 'NOT_FOUND',
  NODSR: 'NOT_FOUND',
  NOTER: 'NOT_FOUND',
  PHINF: 'NOT_FOUND',
  GRNOT: 'NOT_FOUND',
  GRSLF: 'FORBIDDEN',
  GRSTA: 'CONFLICT',
  GRRSN: 'BAD_REQUEST',
  BRNNR: 'BAD_REQUEST',
  DRLSL: 'CONFLICT',
  RPLAY: 'CONFLICT',
  RDLSE: 'FORBIDDEN',
  PTOWN: 'FORBIDDEN',
  PHIDN: 'FORBIDDEN',
  PTROW: 'CONFLICT',
  PRACT: 'NOT_FOUND',
  PRSYS: 'NOT_FOUND',
  PRUSE: 'CONFLICT',
  PRNOB: 'BAD_REQUEST',
  PRLIM: 'NOT_FOUND',
  PRPND: 'CONFLICT',
  PRTSK: 'CONFLICT',
  ARCHV: 'CONFLICT',
  CITUS: 'PRECONDITION_FAILED',
  NODES: 'SERVICE_UNAVAILABLE',
  FKBLK: 'CONFLICT',
  STBYO: 'CONFLICT',
  RVNOT: 'NOT_FOUND',
  RVSLF: 'FORBIDDEN',
  RVSTA: 'CONFLICT',
  ERASD: 'FORBIDDEN',
  DPORL: 'FORBIDDEN',
  APPND: 'FORBIDDEN',
  OTHSJ: 'FORBIDDEN',
  RSRVD: 'FORBIDDEN',
  LHOLD: 'CONFLICT',
  HOLDA: 'CONFLICT',
  CONFM: 'BAD_REQUEST',
  BADFL: 'BAD_REQUEST',
  BADRG: 'BAD_REQUEST',
  PERSD: 'BAD_REQUEST',
  PHICT: 'BAD_REQUEST',
  PURPS: 'BAD_REQUEST',
  RETCT: 'BAD_REQUEST',
  SESXP: 'UNAUTHORIZED',
  '42501': 'FORBIDDEN',
  '23505': 'CONFLICT',
  '23503': 'CONFLICT',
  '23514': 'BAD_REQUEST',
  '22P02': 'BAD_REQUEST',
  // a date or time the database cannot hold (year 0, year 33658): the input's fault
  '22007': 'BAD_REQUEST',
  '22008': 'BAD_REQUEST',
  '22001': 'BAD_REQUEST',
  '22P05': 'BAD_REQUEST',
  '22021': 'BAD_REQUEST',
  '40001': 'CONFLICT',
  '40P01': 'CONFLICT',
};

const GENERIC_MESSAGES: Record<string, string> = {
  '42501': 'not permitted',
  '23505': 'that already exists',
  '23503': 'the subject or resource no longer exists (it may have been erased)',
  '22P05': 'a text value holds a character that cannot be stored (U+0000)',
  '22021': 'a text value is not valid UTF-8',
  '22007': 'a date or time is not valid',
  '22008': 'a date or time is out of range',
  '40001': 'a concurrent change interfered; try again',
  '40P01': 'a concurrent change interfered; try again',
};

/**
 * Our SQL errors speak SQL in their hints ("call again with confirm => true"), which is right for
 * a DBA in psql and wrong for an API client: these say the same in the API's words.
 */
const API_MESSAGES: Record<string, string> = {
  CONFM: 'erasure needs confirmation: set confirm to true (over REST, the query parameter confirm=true). Erasure deletes every personal row of the subject and cannot be undone',
};

interface PostgresLikeError {
  code?: string;
  message?: string;
  hint?: string;
  constraint_name?: string;
}

function isPostgresError(error: unknown): error is PostgresLikeError {
  return typeof error === 'object' && error !== null && 'code' in error && typeof (error as PostgresLikeError).code === 'string'
    && (error as { name?: string }).name === 'PostgresError';
}

const BY_REFUSAL: Record<RefusalKind, TRPC_ERROR_CODE_KEY> = {
  bad_request: 'BAD_REQUEST', forbidden: 'FORBIDDEN', not_found: 'NOT_FOUND', conflict: 'CONFLICT', too_large: 'PAYLOAD_TOO_LARGE', unavailable: 'SERVICE_UNAVAILABLE',
};

/**
 * Whether the error is a refusal the database has already written to the audit log (a PHI access
 * refused): the request's transaction commits, so that row stays, and the client then gets it.
 */
export function isRecordedRefusal(error: TRPCError): boolean {
  return error.cause instanceof Refusal && error.cause.recorded;
}

/** seconds a client waits before trying again after a 503 (a Patroni failover takes a few) */
export const RETRY_AFTER_SECONDS = 2;

export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (isDatabaseUnavailable(error)) {
    return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: `the database is unavailable for a moment (a failover or a restart); try again in ${RETRY_AFTER_SECONDS} seconds, with the same Idempotency-Key`,
      cause: error instanceof Error ? error : undefined });
  }
  // the refusal itself is the cause: it carries the SQLSTATE (sqlStateOf) and whether it is recorded
  if (error instanceof Refusal) return new TRPCError({ code: BY_REFUSAL[error.kind], message: error.message, cause: error });
  if (isPostgresError(error)) {
    const code = error.code!;
    const trpcCode = BY_SQLSTATE[code];
    if (trpcCode) {
      const ours = /^[A-Z]{5}$/.test(code);
      let message = ours ? error.message! : GENERIC_MESSAGES[code] ?? error.message!;
      if (code === '23514' && error.constraint_name) message = `invalid value (${error.constraint_name})`;
      if (ours && error.hint) message = `${message}. ${error.hint}`;
      if (API_MESSAGES[code]) message = API_MESSAGES[code];
      return new TRPCError({ code: trpcCode, message, cause: sqlstateCause(code) });
    }
  }
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error', cause: error instanceof Error ? error : undefined });
}

/** the cause that carries one of our SQLSTATEs to the client (data.sqlstate) */
export function sqlstateCause(code: string): Error & { sqlstate: string } {
  return Object.assign(new Error(code), { sqlstate: code });
}

export function sqlStateOf(error: TRPCError): string | undefined {
  return (error.cause as { sqlstate?: string | null } | undefined)?.sqlstate ?? undefined;
}
