import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Sql } from 'postgres';
import { AuthError, bearerToken, type Verifier } from './auth/verify.js';
import type { Logger } from '../core/log.js';
import type { Metrics } from './metrics.js';
import type { DataKeys } from '../core/keys/data-keys.js';
import type { RequestContext } from './trpc.js';
import { type Assurance, DEFAULT_ASSURANCE } from './auth/assurance.js';

export interface ContextDeps {
  sql: Sql;
  log: Logger;
  verifier: Verifier;
  metrics: Metrics;
  sessionIdleTimeoutSeconds: number;
  /** the patients' data keys, unwrapped with the PHI master keys (core/keys/) */
  dataKeys: DataKeys;
  /** the Host names requests may name (DNS rebinding); default: LOOPBACK_HOST_NAMES */
  allowedHosts?: string[];
  /** what a token must prove for a privileged role (MFA_* settings); default: DEFAULT_ASSURANCE */
  assurance?: Assurance;
  /** PROPAGATION_SECRET: other systems' callbacks are signed with secrets derived from it */
  propagationSecret?: string;
}

/** the REST adapter hands over a fetch Request, the others Node's IncomingMessage */
type AnyRequest = IncomingMessage | Request;

function header(req: AnyRequest, name: string): string | undefined {
  if (req.headers instanceof Headers) return req.headers.get(name) ?? undefined;
  const value = (req as IncomingMessage).headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function clientIp(req: AnyRequest, res?: ServerResponse): string | null {
  const address = res?.socket?.remoteAddress ?? (req as IncomingMessage).socket?.remoteAddress;
  if (!address) return null;
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export async function createRequestContext(deps: ContextDeps, req: AnyRequest, res?: ServerResponse): Promise<RequestContext> {
  const token = bearerToken(header(req, 'authorization'));
  let identity: RequestContext['identity'] = null;
  let authError: string | null = null;
  if (token) {
    try {
      identity = await deps.verifier(token);
    } catch (error) {
      authError = error instanceof AuthError ? error.message : 'invalid token';
      deps.metrics.authFailures.inc();
    }
  }
  const userAgent = header(req, 'user-agent');
  return {
    sql: deps.sql,
    dataKeys: deps.dataKeys,
    log: deps.log,
    identity,
    authError,
    clientIp: clientIp(req, res),
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
    sessionIdleTimeoutSeconds: deps.sessionIdleTimeoutSeconds,
    assurance: deps.assurance ?? DEFAULT_ASSURANCE,
    idempotencyKey: typeof header(req, 'idempotency-key') === 'string' ? header(req, 'idempotency-key') as string : null,
    setHeader: res ? (name, value) => { if (!res.headersSent) res.setHeader(name, value); } : undefined,
  };
}
