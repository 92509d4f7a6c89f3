/**
 * Bearer-token verification with jose: against the identity provider's JWKS (OIDC, e.g.
 * Keycloak, roles from realm_access.roles) or, in development, an HS256 shared secret.
 */
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export const DEVELOPMENT_JWT_SECRET = 'pgcomply-development-secret-never-use-in-production';

export interface Identity {
  subject: string;
  roles: string[];
  sessionId: string;
  username?: string;
  email?: string;
  name?: string;
  /** how the person signed in (RFC 8176 amr values: pwd, otp, hwk, mfa, …) */
  amr: string[];
  /** the authentication context class the identity provider reached */
  acr?: string;
  /** when the person last signed in with the identity provider (seconds since 1970) */
  authTime?: number;
}

export class AuthError extends Error {}

export type Verifier = (token: string) => Promise<Identity>;

export interface VerifierOptions {
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  secret?: string;
  /**
   * How long a key the identity provider withdrew from its JWKS may still be accepted: the
   * JWKS is fetched again once older than this, and a verified token is remembered no longer.
   * 60 s by default (JWKS_MAX_AGE_SECONDS); jose's own default keeps a key ten minutes.
   */
  keyMaxAgeSeconds?: number;
}

export const DEFAULT_KEY_MAX_AGE_SECONDS = 60;

const REMEMBERED_TOKENS = 10_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sessionIdOf(payload: JWTPayload & { sid?: unknown }): string {
  if (typeof payload.sid === 'string' && UUID.test(payload.sid)) return payload.sid.toLowerCase();
  // no session id in the token: one session per token issuance
  const hex = createHash('sha256').update(`${payload.sub}\u0000${payload.iat ?? ''}\u0000${payload.jti ?? ''}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function rolesOf(payload: JWTPayload): string[] {
  const realm = (payload as { realm_access?: { roles?: unknown } }).realm_access?.roles;
  const direct = (payload as { roles?: unknown }).roles;
  return [...(Array.isArray(realm) ? realm : []), ...(Array.isArray(direct) ? direct : [])].filter(
    (r): r is string => typeof r === 'string',
  );
}

const optionalClaim = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);

export function createVerifier(options: VerifierOptions): Verifier {
  const maxAgeMs = (options.keyMaxAgeSeconds ?? DEFAULT_KEY_MAX_AGE_SECONDS) * 1000;
  // the HMAC key is imported once, not at every verification. A token with an unknown kid makes
  // jose fetch again, at most once per cooldown: no faster than the bound, nor than 30 s
  const key = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: maxAgeMs, cooldownDuration: Math.min(30_000, maxAgeMs) })
    : crypto.subtle.importKey('raw', new TextEncoder().encode(options.secret ?? DEVELOPMENT_JWT_SECRET),
        { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: options.jwksUrl ? ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'] : ['HS256'],
    requiredClaims: ['sub', 'exp'],
  };
  const verified = new Map<string, { identity: Identity; until: number }>();
  return async (token) => {
    const now = Date.now();
    const known = verified.get(token);
    if (known && known.until > now) return known.identity;
    let payload: JWTPayload;
    try {
      payload = (typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, await key, verifyOptions)).payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AuthError('token expired');
      if (error instanceof errors.JOSEError) throw new AuthError(`invalid token (${error.code})`);
      throw new AuthError('invalid token');
    }
    const subject = payload.sub!;
    if (subject.length > 256) throw new AuthError('invalid token (subject too long)');
    const identity: Identity = {
      subject,
      roles: rolesOf(payload),
      sessionId: sessionIdOf(payload),
      username: optionalClaim((payload as Record<string, unknown>).preferred_username),
      email: optionalClaim((payload as Record<string, unknown>).email),
      name: optionalClaim((payload as Record<string, unknown>).name),
      amr: Array.isArray(payload.amr) ? payload.amr.filter((v): v is string => typeof v === 'string').slice(0, 16) : [],
      acr: optionalClaim(payload.acr),
      authTime: typeof payload.auth_time === 'number' && Number.isFinite(payload.auth_time) ? payload.auth_time : undefined,
    };
    // a client sends the same token with every request, and WebCrypto verification was an
    // eighth of the server's CPU: remember the exact token until it expires, but no longer than
    // the key bound, so that a withdrawn key stops working within it (memo and JWKS cache both
    // date from before the withdrawal, so neither outlives it by more than the bound)
    if (verified.size >= REMEMBERED_TOKENS) verified.delete(verified.keys().next().value!);
    verified.set(token, { identity, until: Math.min(payload.exp! * 1000, now + maxAgeMs) });
    return identity;
  };
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}
