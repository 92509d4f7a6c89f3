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
let withdrawnKey: CryptoKey;
/** the keys the stand-in provider publishes now: a test withdraws one by removing it */
const published: Record<string, unknown>[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey as CryptoKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const withdrawn = await generateKeyPair('RS256', { extractable: true });
  withdrawnKey = withdrawn.privateKey as CryptoKey;
  published.push(jwk, { ...(await exportJWK(withdrawn.publicKey)), kid: 'k-old', alg: 'RS256', use: 'sig' });
  // a stand-in for the identity provider's JWKS endpoint (Keycloak's /protocol/openid-connect/certs)
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/certs`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function keycloakToken(key: CryptoKey, claims: Record<string, unknown> = {}, expires = '5m', issuer = ISSUER, kid = 'k1') {
  return new SignJWT({ realm_access: { roles: ['offline_access', 'dpo'] }, preferred_username: 'dana', email: 'dana@example.org', sid: '3f1c8a42-1d2e-4c1b-9a7e-0b5d2c4e6f80', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid })
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

  it('stops accepting a token once its key is withdrawn from the JWKS, within the configured bound', async () => {
    const boundSeconds = 2;
    const verify = createVerifier({ jwksUrl, issuer: ISSUER, audience: 'pgcomply', keyMaxAgeSeconds: boundSeconds });
    const token = await keycloakToken(withdrawnKey, {}, '5m', ISSUER, 'k-old');
    await expect(verify(token)).resolves.toMatchObject({ subject: 'user:dana' });
    published.splice(published.findIndex((k) => k.kid === 'k-old'), 1);
    // the same token again and again, as a client sends it: remembered, then refused. The poll
    // gives the bound plus room for a loaded machine; a key kept for jose's default ten minutes,
    // or a memo of a minute, fails here
    await expect.poll(async () => verify(token).then(() => 'accepted', (error: Error) => error.message),
      { timeout: boundSeconds * 1000 + 8_000, interval: 100 }).toMatch(/^invalid token/);
    await expect(verify(await keycloakToken(signingKey))).resolves.toMatchObject({ subject: 'user:dana' });
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
