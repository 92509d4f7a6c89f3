/**
 * Who is signed in: the bearer token (session storage, gone with the tab), what it says about
 * the user for display (the server decides what they may do), and sign-in: OIDC authorization
 * code with PKCE (oauth4webapi) against the configured issuer, a pasted token, or in development
 * a token minted for a typed user id.
 */
import * as oauth from 'oauth4webapi';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { api, tokenStore } from './api.js';
import i18n from './i18n.js';

export type AuthConfig = { mode: 'development' } | { mode: 'token' } | { mode: 'oidc'; issuer: string; client_id: string; scope: string };
export interface UiConfig { auth: AuthConfig; session_idle_timeout_seconds: number }

export interface Identity { subject: string; roles: string[]; name: string | null }

interface Session {
  config: UiConfig;
  identity: Identity | null;
  /** why the last session ended, shown on the sign-in page */
  endedBecause: string | null;
  signIn(token: string): void;
  /** closes the session on the server too, unless it is gone already (the account was erased) */
  signOut(reason?: string, options?: { sessionGone?: boolean }): void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

/** the token's claims, read for display only: the server verifies it on every call */
function identityOf(token: string | null): Identity | null {
  if (!token) return null;
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    if (typeof payload.exp === 'number' && payload.exp * 1000 < Date.now()) return null;
    const realm = (payload.realm_access as { roles?: unknown } | undefined)?.roles;
    const roles = [...(Array.isArray(realm) ? realm : []), ...(Array.isArray(payload.roles) ? payload.roles : [])].filter((r): r is string => typeof r === 'string');
    const name = typeof payload.name === 'string' ? payload.name : typeof payload.preferred_username === 'string' ? payload.preferred_username : null;
    return { subject: String(payload.sub), roles, name };
  } catch {
    return null;
  }
}

export function SessionProvider({ config, children }: { config: UiConfig; children: ReactNode }) {
  const [token, setToken] = useState<string | null>(() => (identityOf(tokenStore.get()) ? tokenStore.get() : null));
  const [endedBecause, setEndedBecause] = useState<string | null>(null);
  const signIn = useCallback((next: string) => {
    tokenStore.set(next);
    setEndedBecause(null);
    setToken(next);
  }, []);
  const signOut = useCallback((reason?: string, options: { sessionGone?: boolean } = {}) => {
    // the server closes the token's session, so the token is worthless from now on; a session it already ended refuses, which is fine
    const token = tokenStore.get();
    if (token && !options.sessionGone) api.me.signOut.mutate(undefined, { context: { token } }).catch(() => undefined);
    tokenStore.clear();
    setEndedBecause(reason ?? null);
    setToken(null);
  }, []);
  const value = useMemo(() => ({ config, identity: identityOf(token), endedBecause, signIn, signOut }), [config, token, endedBecause, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

const PKCE_KEY = 'pgcomply.pkce';
const redirectUri = () => `${location.origin}/`;

/** plain HTTP only to a provider on this machine (development, tests); anywhere else oauth4webapi insists on HTTPS */
const transport = (issuer: string) =>
  (/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(issuer) ? { [oauth.allowInsecureRequests]: true } : {});

async function authorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  return oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, transport(issuer)));
}

/** what a step-up challenge (RFC 9470) asks the identity provider for */
export interface StepUp { acr_values: string | null; max_age: number | null }

/**
 * To the identity provider, with a PKCE challenge; back at / with ?code=, then where it started.
 * A step-up asks for a fresh sign-in (prompt=login, max_age) at the level the API named (acr_values).
 */
export async function startOidcSignIn(config: Extract<AuthConfig, { mode: 'oidc' }>, stepUp?: StepUp): Promise<void> {
  const as = await authorizationServer(config.issuer);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, returnTo: location.pathname }));
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({ client_id: config.client_id, redirect_uri: redirectUri(), response_type: 'code', scope: config.scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
    ...(stepUp ? { prompt: 'login', ...(stepUp.max_age !== null ? { max_age: String(stepUp.max_age) } : {}), ...(stepUp.acr_values ? { acr_values: stepUp.acr_values } : {}) } : {}) }).toString();
  location.assign(url.toString());
}

/** the way back from the identity provider: the code exchanged for a token; null when this page load is not one */
export async function finishOidcSignIn(config: AuthConfig): Promise<{ token: string; returnTo: string } | null> {
  const here = new URL(location.href);
  if (config.mode !== 'oidc' || (!here.searchParams.has('code') && !here.searchParams.has('error'))) return null;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? 'null') as { verifier: string; state: string; returnTo: string } | null;
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, '', '/');
  if (!saved) throw new Error('the sign-in came back without one having started here: sign in again');
  if (here.searchParams.has('error')) {
    throw new Error(`the identity provider refused: ${here.searchParams.get('error_description') ?? here.searchParams.get('error')}`);
  }
  const as = await authorizationServer(config.issuer);
  const client: oauth.Client = { client_id: config.client_id };
  const params = oauth.validateAuthResponse(as, client, here, saved.state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri(), saved.verifier, transport(config.issuer));
  const result = await oauth.processAuthorizationCodeResponse(as, client, response);
  return { token: result.access_token, returnTo: saved.returnTo };
}

/** loads /ui/config and completes an OIDC return before anything renders */
export function useUiConfig(): { config: UiConfig | null; failure: string | null; returned: { token: string; returnTo: string } | null } {
  const [state, setState] = useState<{ config: UiConfig | null; failure: string | null; returned: { token: string; returnTo: string } | null }>(
    { config: null, failure: null, returned: null });
  useEffect(() => {
    fetch('/ui/config').then((r) => r.json() as Promise<UiConfig>).then(async (config) => {
      try {
        setState({ config, failure: null, returned: await finishOidcSignIn(config.auth) });
      } catch (error) {
        setState({ config, failure: i18n.t('signIn.failed', { reason: (error as Error).message }), returned: null });
      }
    }, (error: Error) => setState({ config: null, failure: i18n.t('signIn.noServer', { reason: error.message }), returned: null }));
  }, []);
  return state;
}
