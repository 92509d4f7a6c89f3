/**
 * The signature on what pgcomply sends and what other systems send back: HMAC-SHA256 of
 * "<unix seconds>.<body>", hex, as `sha256=<hex>` in x-pgcomply-signature with the seconds in
 * x-pgcomply-timestamp. Alerts are signed with ALERT_WEBHOOK_SECRET; each system that requests
 * reach has its own secret, derived from PROPAGATION_SECRET, so one system cannot speak for another.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** how far a signed timestamp may be from now: a captured callback cannot be replayed later */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** the headers of a signed body sent now */
export function signedHeaders(secret: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return { 'x-pgcomply-timestamp': timestamp, 'x-pgcomply-signature': signature(secret, timestamp, body) };
}

/** the secret of one system: the operator gives it to that system (pgcomply propagation secret <system>) */
export function systemSecret(propagationSecret: string, system: string): string {
  return createHmac('sha256', propagationSecret).update(`pgcomply propagation system ${system}`).digest('hex');
}

/** whether a body was signed with the secret within the tolerance of now */
export function verifySignature(secret: string, timestamp: string | undefined, body: string, given: string | undefined, now = Date.now()): boolean {
  if (!timestamp || !given || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(signature(secret, timestamp, body));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
