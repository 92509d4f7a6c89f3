/** What every procedure receives: the connection pool, the keys, the log and who is asking. */
import type { Sql } from 'postgres';
import type { DataKeys } from '../../core/keys/data-keys.js';
import type { Logger } from '../../core/log.js';
import type { Assurance } from '../auth/assurance.js';
import type { Identity } from '../auth/verify.js';

export interface RequestContext {
  sql: Sql;
  dataKeys: DataKeys;
  log: Logger;
  identity: Identity | null;
  authError: string | null;
  clientIp: string | null;
  userAgent: string | null;
  sessionIdleTimeoutSeconds: number;
  /** what a token must prove for a privileged role; unset where no token authenticates (the CLI's database login) */
  assurance?: Assurance;
  /** the client's Idempotency-Key header: claimed in the request's transaction, so a retry is applied once */
  idempotencyKey?: string | null;
  /** sets a header on the response (the step-up challenge), where there is one */
  setHeader?: (name: string, value: string) => void;
}
