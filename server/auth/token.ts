import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { DEVELOPMENT_JWT_SECRET } from './verify.js';

export interface DevelopmentTokenOptions {
  subject: string;
  roles?: string[];
  secret?: string;
  ttlSeconds?: number;
  claims?: Record<string, unknown>;
}

/**
 * An HS256 token such as a development identity provider would issue. It says the person signed
 * in just now with a second factor (amr mfa, auth_time now): whoever holds the development or
 * shared secret vouches for that; `claims` says otherwise (amr ['pwd'], an older auth_time).
 */
export async function signDevelopmentToken(options: DevelopmentTokenOptions): Promise<string> {
  const name = options.subject.replace(/^[^:]*:/, '');
  return new SignJWT({
    preferred_username: name,
    email: `${name}@example.org`,
    name,
    realm_access: { roles: options.roles ?? [] },
    sid: randomUUID(),
    amr: ['pwd', 'mfa'],
    auth_time: Math.floor(Date.now() / 1000),
    ...options.claims,
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.subject)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${options.ttlSeconds ?? 3600}s`)
    .sign(new TextEncoder().encode(options.secret ?? DEVELOPMENT_JWT_SECRET));
}
