/** What every procedure receives: the connection pool, the keys, the log and who is asking. */
import type { Sql } from 'postgres';
import type { DataKeys } from '../../core/keys/data-keys.js';
import type { Logger } from '../../core/log.js';
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
}
