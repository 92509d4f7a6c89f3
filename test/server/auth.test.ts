import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, createVerifier } from '../../server/auth/verify.js';

const ISSUER = 'http://127.0.0.1/realms/pgcomply';
let jwksUrl = '';
let server: http.Server;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey as CryptoKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  // a stand-in for the identity provider's JWKS endpoint (Keycloak's /protocol/openid-connect/certs)
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/certs`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function keycloakToken(key: CryptoKey, claims: Record<string, unknown> = {}, expires = '5m', issuer = ISSUER) {
  return new SignJWT({ realm_access: { roles: ['offline_access', 'dpo'] }, preferred_username: 'dana', email: 'dana@example.org', sid: '3f1c8a42-1d2e-4c1b-9a7e-0b5d2c4e6f80', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setSubject('user:dana')
    .setIssuer(issuer)
    .setAudience('pgcomply')
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(key);
}

describe('tokens from an OIDC identity provider (JWKS)', () => {
  it('accepts a token signed by the provider and takes roles from realm_access.roles', async () => {
    const verify = createVerifier({ jwksUrl, issuer: ISSUER, audience: 'pgcomply' });
    const identity = await verify(await keycloakToken(signingKey));
    expect(identity).toMatchObject({ subject: 'user:dana', roles: ['offline_access', 'dpo'], username: 'dana', email: 'dana@example.org', sessionId: '3f1c8a42-1d2e-4c1b-9a7e-0b5d2c4e6f80' });
  });

  it('refuses a foreign key, another issuer, another audience and an expired token', async () => {
    const verify = createVerifier({ jwksUrl, issuer: ISSUER, audience: 'pgcomply' });
    await expect(verify(await keycloakToken(strangerKey))).rejects.toBeInstanceOf(AuthError);
    await expect(verify(await keycloakToken(signingKey, {}, '5m', 'http://evil.example/realms/x'))).rejects.toBeInstanceOf(AuthError);
    await expect(createVerifier({ jwksUrl, issuer: ISSUER, audience: 'other-app' })(await keycloakToken(signingKey))).rejects.toBeInstanceOf(AuthError);
    await expect(verify(await keycloakToken(signingKey, {}, '-1m'))).rejects.toThrow('token expired');
  });

  it('refuses an HS256 token when a JWKS is configured (no algorithm confusion)', async () => {
    const verify = createVerifier({ jwksUrl, issuer: ISSUER });
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('user:mallory').setIssuer(ISSUER)
      .setExpirationTime('5m').sign(new TextEncoder().encode('pgcomply-development-secret-never-use-in-production'));
    await expect(verify(forged)).rejects.toBeInstanceOf(AuthError);
  });
});

describe('remembered tokens', () => {
  it('stops accepting a remembered token when it expires, and never a forged neighbour', async () => {
    const secret = 'a-test-secret-of-some-length';
    const verify = createVerifier({ secret });
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('user:brief').setExpirationTime(expiresAt)
      .sign(new TextEncoder().encode(secret));
    expect((await verify(token)).subject).toBe('user:brief');
    expect((await verify(token)).subject).toBe('user:brief');
    const forged = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await expect(verify(forged)).rejects.toBeInstanceOf(AuthError);
    await new Promise((resolve) => setTimeout(resolve, expiresAt * 1000 - Date.now() + 1100));
    await expect(verify(token)).rejects.toThrow('token expired');
  });
});
