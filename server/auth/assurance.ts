/**
 * Who is really acting: which token claims prove multi-factor authentication (RFC 8176 `amr`
 * values, or `acr` levels), which roles need it, and how recent a sign-in the gravest actions
 * need (`auth_time`). A request short of it is refused with the RFC 9470 step-up challenge, which
 * says what to ask the identity provider for.
 */
import type { Identity } from './verify.js';

export interface Assurance {
  /** amr values that prove a second factor (RFC 8176): mfa, otp, hwk, swk by default */
  mfaAmr: string[];
  /** acr values that prove it; the first is what a challenge asks the identity provider for */
  mfaAcr: string[];
  /** the token roles that act only with multi-factor authentication */
  roles: string[];
  /** how old a sign-in may be for the gravest actions (erasure, releasing a hold, break-glass, approving access, closing a breach) */
  stepUpMaxAgeSeconds: number;
}

export const DEFAULT_ASSURANCE: Assurance = {
  mfaAmr: ['mfa', 'otp', 'hwk', 'swk'],
  mfaAcr: [],
  roles: ['dpo', 'staff', 'approver', 'auditor'],
  stepUpMaxAgeSeconds: 600,
};

/** what the request's token proved, as the audit rows of a privileged action record it */
export interface Authentication {
  amr: string[];
  acr: string | null;
  mfa: boolean;
  auth_time: string | null;
}

export function authenticationOf(assurance: Assurance, identity: Identity): Authentication {
  const mfa = identity.amr.some((value) => assurance.mfaAmr.includes(value)) || (identity.acr !== undefined && assurance.mfaAcr.includes(identity.acr));
  return { amr: identity.amr, acr: identity.acr ?? null, mfa, auth_time: identity.authTime === undefined ? null : new Date(identity.authTime * 1000).toISOString() };
}

/** a request short of the assurance its role or action needs: what to tell the client, and why */
export class InsufficientAuthentication extends Error {
  constructor(message: string, readonly challenge: string, readonly stepUp: { acr_values: string | null; max_age: number | null }) {
    super(message);
  }
}

const quoted = (value: string) => `"${value.replace(/["\\]/g, '')}"`;

/** the WWW-Authenticate value of RFC 9470: error, a description, and what to ask for */
function challengeOf(description: string, acrValues: string | null, maxAge: number | null): string {
  return [`Bearer error="insufficient_user_authentication"`, `error_description=${quoted(description)}`,
    ...(acrValues ? [`acr_values=${quoted(acrValues)}`] : []), ...(maxAge !== null ? [`max_age=${maxAge}`] : [])].join(', ');
}

/**
 * Throws InsufficientAuthentication when `tokenRole` needs multi-factor authentication the token
 * does not prove, or when the action needs a recent sign-in (stepUp) and the token's is older.
 */
export function requireAssurance(assurance: Assurance, identity: Identity, tokenRole: string | null, stepUp: boolean, now = Date.now()): void {
  if (tokenRole === null || !assurance.roles.includes(tokenRole)) return;
  const acrValues = assurance.mfaAcr.length > 0 ? assurance.mfaAcr.join(' ') : null;
  if (!authenticationOf(assurance, identity).mfa) {
    const message = `the ${tokenRole} role acts only after multi-factor authentication: sign in again with a second factor`;
    throw new InsufficientAuthentication(message, challengeOf(message, acrValues, stepUp ? assurance.stepUpMaxAgeSeconds : null),
      { acr_values: acrValues, max_age: stepUp ? assurance.stepUpMaxAgeSeconds : null });
  }
  if (!stepUp) return;
  const age = identity.authTime === undefined ? Number.POSITIVE_INFINITY : now / 1000 - identity.authTime;
  if (age > assurance.stepUpMaxAgeSeconds) {
    const message = `this action needs a sign-in from the last ${Math.round(assurance.stepUpMaxAgeSeconds / 60)} minutes: confirm it is you by signing in again`;
    throw new InsufficientAuthentication(message, challengeOf(message, acrValues, assurance.stepUpMaxAgeSeconds),
      { acr_values: acrValues, max_age: assurance.stepUpMaxAgeSeconds });
  }
}
