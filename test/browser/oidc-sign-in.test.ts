/**
 * Sign-in with OIDC: the authorization code flow with PKCE against an identity
 * provider on this machine (oidc-provider, the certified Node implementation, standing in for
 * Keycloak), whose JWT access tokens the server verifies against the provider's JWKS. A subject
 * and a DPO sign in through the provider's own login page and land where they started. The
 * provider issues amr, acr and auth_time: each privileged role is refused after a password-only
 * sign-in with the RFC 9470 challenge and served after a second factor, and a DPO whose sign-in is
 * 20 minutes old is sent back through the provider before an erasure, which then succeeds.
 */
import http from 'node:http';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/embedded.js';
import { createVerifier, type Verifier } from '../../server/auth/verify.js';
import { useServer } from '../server/harness.js';
import { useBrowser, type Visit } from './browser.js';

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
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, name: id.replace(/^[^:]*:/, '').replace(/\W.*$/, '') }) }),
    features: {
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'openid profile email', audience: AUDIENCE, accessTokenFormat: 'jwt' as const }),
      },
    },
    // the access token says how the person signed in, as the ID token does (amr, acr, auth_time)
    extraTokenClaims: (ctx, token) => {
      const subject = (token as { accountId?: string }).accountId ?? '';
      const role = /^(dpo|staff|approver|auditor):/.exec(subject)?.[1];
      const code = ctx.oidc.entities.AuthorizationCode as { amr?: string[]; acr?: string; authTime?: number } | undefined;
      return { realm_access: { roles: role ? [role] : [] }, amr: code?.amr ?? ['pwd'], acr: code?.acr, auth_time: code?.authTime };
    },
    pkce: { required: () => true },
  });
  // the login page's name field carries how the person authenticated, as a real provider's second
  // step would: "dpo:otto#otp" signed in with a one-time password, "#otp-20m" did so 20 minutes ago
  const interactionResult = provider.interactionResult.bind(provider);
  provider.interactionResult = (req, res, result, options) => {
    const login = (result as { login?: { accountId: string } }).login;
    if (login) {
      const [, accountId, factor, minutes] = /^([^#]+)(?:#(otp))?(?:-(\d+)m)?$/.exec(login.accountId) ?? [, login.accountId];
      Object.assign(login, { accountId, amr: factor ? ['pwd', factor] : ['pwd'], acr: factor ? 'urn:pgcomply:mfa' : 'urn:pgcomply:pwd',
        ts: Math.floor(Date.now() / 1000) - Number(minutes ?? 0) * 60 });
    }
    return interactionResult(req, res, result, options);
  };
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
  // the consent page comes the first time only: a second sign-in goes straight back
  const back = page.waitForURL((url) => url.origin !== idp.issuer).then(() => 'back' as const);
  const consent = page.getByRole('button', { name: 'Continue' }).waitFor().then(() => 'consent' as const);
  if ((await Promise.race([back, consent])) === 'consent') await page.getByRole('button', { name: 'Continue' }).click();
  back.catch(() => undefined);
  consent.catch(() => undefined);
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
    await logInAtProvider(page, 'dpo:otto#otp');
    await page.getByRole('heading', { name: 'DPO console' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dpo');
    await page.getByRole('heading', { name: 'Requests' }).waitFor();
    await page.getByText('No request is open.').waitFor();
    visit.expectClean(0, [idp.issuer]);
  });

  for (const role of ['dpo', 'staff', 'approver', 'auditor']) {
    it(`refuses a ${role} after a password-only sign-in with the RFC 9470 challenge, and serves one who used a second factor`, async () => {
      const password = await providerToken(`${role}:pat`, `${role}-password`);
      const refused = await privilegedCall(role, password);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_user_authentication"/);
      const otp = await providerToken(`${role}:pat#otp`, `${role}-otp`);
      expect((await privilegedCall(role, otp)).status).toBe(200);
    });
  }

  it('sends a DPO whose sign-in is 20 minutes old back through the provider before an erasure, which then succeeds', async () => {
    await api.db.as('compliance_app', { actor: 'user:ulla' }, (tx) => tx`select compliance.ensure_profile('user:ulla', 'ulla', 'ulla@example.org', 'Ulla Example')`);
    const visit = await browser.open('/dpo', { name: 'oidc-step-up' });
    const { page } = visit;
    await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
    await logInAtProvider(page, 'dpo:otto#otp-20m');
    await page.getByRole('heading', { name: 'DPO console' }).waitFor();
    const erase = async () => {
      await page.getByRole('button', { name: 'Subjects' }).click();
      await page.getByLabel(/Find a subject/).fill('ulla@example');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('button', { name: 'user:ulla' }).click();
      await page.getByLabel(/Type the user id/).fill('user:ulla');
      await page.getByRole('button', { name: 'Erase user:ulla' }).click();
    };
    await erase();
    // refused (401 with max_age): the page asks the person to confirm it is them
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.getByText(/sign-in from the last 10 minutes/).waitFor();
    expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:ulla'`)[0]!.n).toBe(1);
    await visit.expectAccessible('step-up dialog');
    const started = page.waitForRequest((request) => request.url().startsWith(`${idp.issuer}/auth`));
    await dialog.getByRole('button', { name: 'Sign in again' }).click();
    const authorization = new URL((await started).url());
    expect(authorization.searchParams.get('max_age')).toBe('600');
    expect(authorization.searchParams.get('prompt')).toBe('login');
    await logInAtProvider(page, 'dpo:otto#otp');
    // back where the action was, signed in just now: the erasure goes through
    await page.getByRole('heading', { name: 'DPO console' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/dpo');
    await erase();
    await page.getByRole('heading', { name: 'user:ulla is erased' }).waitFor();
    expect((await api.db.admin`select count(*)::int as n from compliance.user_profiles where user_id = 'user:ulla'`)[0]!.n).toBe(0);
    const [erased] = await api.db.admin`select details -> 'authentication' as authentication from compliance.audit_logs where action = 'subject.erased' order by id desc limit 1`;
    expect(erased!.authentication).toMatchObject({ amr: ['pwd', 'otp'], acr: 'urn:pgcomply:mfa', mfa: true });
    // the refusal (401) the stale sign-in provoked is the only console error
    expect(visit.consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});

/** a token the provider issued to a person who logged in as `login` (the code flow in Chromium) */
async function providerToken(login: string, name: string): Promise<string> {
  const visit: Visit = await browser.open('/', { name: `oidc-${name}` });
  await visit.page.getByRole('button', { name: 'Sign in with your organisation' }).click();
  await logInAtProvider(visit.page, login);
  await visit.page.waitForURL((url) => url.origin === new URL(api.baseUrl).origin && !url.searchParams.has('code'));
  await expect.poll(() => visit.page.evaluate(() => sessionStorage.getItem('pgcomply.token'))).not.toBeNull();
  const token = (await visit.page.evaluate(() => sessionStorage.getItem('pgcomply.token')))!;
  await visit.page.context().close();
  return token;
}

/** one read each privileged role may make */
function privilegedCall(role: string, token: string) {
  const path = { dpo: '/api/v1/dpo/requests', staff: '/api/v1/staff/access-grants', approver: '/api/v1/approver/access-requests', auditor: '/api/v1/anchors/last' }[role]!;
  return api.call('GET', path, token);
}
