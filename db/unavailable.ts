/**
 * Which database errors mean the database, not the request, is at fault: the API answers them
 * with 503 and Retry-After, and the worker's service probe counts them as the primary being down.
 */

/** errors after which the connection itself is gone (a failover, a restart, a network cut) */
const CONNECTION_LOST_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET',
  'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '08000', '08003', '08006']);

/**
 * Those, and a connection that could not be made or reached a server that no longer accepts
 * writes: no fault of the request, and worth trying again in seconds.
 */
const UNAVAILABLE_CODES = new Set([...CONNECTION_LOST_CODES, '25006', '08001', '08004']);

export function isConnectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_LOST_CODES.has(code);
}

export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
}
