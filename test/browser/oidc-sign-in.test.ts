/**
 * Sign-in with OIDC: the authorization code flow with PKCE against an identity
 * provider on this machine (oidc-provider, the certified Node implementation, standing in for
 * Keycloak), whose JWT access tokens the server verifies against the provider's JWKS. A subject
 * and a DPO sign in through the provider's own login page and land where they started.
 */
import http from 'node:http';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/embedded.js';
import { createVerifier, type Verifier } from '../../server/auth/verify.js';
import { useServer } from '../server/harness.js';
import { useBrowser } from './browser.js';

const CLIENT_ID = 'pgcomply-pages';
const AUDIENCE = 'urn:pgcomply:api';
const idp = { issuer: '', server: undefined as http.Server | undefined, verifier: undefined as Verifier | undefined };

const api = useServer({
  verifier: (token) => idp.verifier!(token),
  web: { get auth() { return { mode: 'oidc' as const, issuer: idp.issuer, clientId: CLIENT_ID, scope: 'openid profile email' }; } },
});
const browser = useBrowser(() => api.baseUrl);

beforeAll(async () => {
  const port = await freePort();
  idp.issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(idp.issuer, {
    clients: [{ client_id: CLIENT_ID, token_endpoint_auth_method: 'none', redirect_uris: [`${api.baseUrl}/`],
      grant_types: ['authorization_code'], response_types: ['code'] }],
    // whoever logs in is who they typed; the prefix says the role, as a realm's role mapping would
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, name: id.replace(/^[^:]*:/, '') }) }),
    features: {
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'openid profile email', audience: AUDIENCE, accessTokenFormat: 'jwt' as const }),
      },
    },
    extraTokenClaims: (_ctx, token) => {
      const subject = (token as { accountId?: string }).accountId ?? '';
      return { realm_access: { roles: subject.startsWith('dpo:') ? ['dpo'] : [] } };
    },
    pkce: { required: () => true },
  });
  idp.server = http.createServer(provider.callback());
  await new Promise<void>((resolve) => idp.server!.listen(port, '127.0.0.1', resolve));
  idp.verifier = createVerifier({ jwksUrl: `${idp.issuer}/jwks`, issuer: idp.issuer, audience: AUDIENCE });
});
afterAll(() => new Promise<void>((resolve) => { idp.server?.closeAllConnections(); idp.server?.close(() => resolve()); }));

async function logInAtProvider(page: import('playwright-core').Page, login: string) {
  // the stand-in provider's login page asks for a web font; nothing leaves this machine
  await page.route(/^https:\/\//, (route) => route.abort());
  await page.waitForURL((url) => url.origin === idp.issuer);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any');
  await page.locator('button[type="submit"]').click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

describe('OIDC sign-in', () => {
  it('signs a subject in with the code flow and PKCE, and the API accepts the provider\'s token', async () => {
    await api.db.as('compliance_app', { actor: 'user:olga' }, (tx) => tx`select compliance.ensure_profile('user:olga', 'olga', 'olga@example.org', 'Olga Example')`);

    const visit = await browser.open('/', { name: 'oidc-subject' });
    const { page } = visit;
    expect(await page.getByText('Development sign-in.').count()).toBe(0);
    const started = page.waitForRequest((request) => request.url().startsWith(`${idp.issuer}/auth`));
    await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
    const authorization = new URL((await started).url());
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorization.searchParams.get('redirect_uri')).toBe(`${api.baseUrl}/`);
    await logInAtProvider(page, 'user:olga');

    await page.getByRole('heading', { name: 'Your privacy center' }).waitFor();
    await page.getByText('Signed in as user:olga').waitFor();
    expect(await page.getByLabel('Full name').inputValue()).toBe('Olga Example');
    expect(new URL(page.url()).search).toBe('');
    await visit.expectAccessible('privacy center after OIDC sign-in');
    visit.expectClean(0, [idp.issuer]);
  });

  it('brings a DPO back to the console, with the role the provider gave', async () => {
    const visit = await browser.open('/dpo', { name: 'oidc-dpo' });
    const { page } = visit;
    await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
    await logInAtProvider(page, 'dpo:otto');
    await page.getByRole('heading', { name: 'DPO console' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dpo');
    await page.getByRole('heading', { name: 'Requests' }).waitFor();
    await page.getByText('No request is open.').waitFor();
    visit.expectClean(0, [idp.issuer]);
  });
});
