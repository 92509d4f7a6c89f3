/** Sign-in: OIDC with PKCE, a pasted token, or (development only, and said so) a token for a typed user id. */
import { type FormEvent, useState } from 'react';
import { useSession, startOidcSignIn } from './session.js';

const ROLES = [['dpo', 'Data protection officer'], ['approver', 'Access approver'], ['auditor', 'Auditor'], ['staff', 'Workforce (staff)']] as const;

export function SignIn() {
  const { config, endedBecause, signIn } = useSession();
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const developmentSignIn = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setFailure(null);
    try {
      const response = await fetch('/ui/dev-token', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: String(form.get('subject') ?? ''), roles: form.getAll('roles').map(String) }) });
      const body = await response.json() as { token?: string; message?: string };
      if (!response.ok || !body.token) throw new Error(body.message ?? `the server answered ${response.status}`);
      signIn(body.token);
    } catch (error) {
      setFailure((error as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="container narrow">
      <h1>Sign in</h1>
      {endedBecause ? <p role="status" className="ended">{endedBecause}</p> : null}
      {failure ? <p role="alert" className="problem">{failure}</p> : null}
      {config.auth.mode === 'oidc' ? (
        <button type="button" onClick={() => startOidcSignIn(config.auth as Extract<typeof config.auth, { mode: 'oidc' }>).catch((e: Error) => setFailure(e.message))}>
          Sign in with your organisation
        </button>
      ) : null}
      {config.auth.mode === 'token' ? (
        <form onSubmit={(event) => { event.preventDefault(); signIn(String(new FormData(event.currentTarget).get('token') ?? '').trim()); }}>
          <label>Bearer token<textarea name="token" required rows={4} /></label>
          <button type="submit">Sign in</button>
        </form>
      ) : null}
      {config.auth.mode === 'development' ? (
        <form onSubmit={developmentSignIn} aria-describedby="dev-note">
          <p id="dev-note" className="dev-note"><strong>Development sign-in.</strong> No identity provider is configured (AUTH_JWKS_URL), so
            this page mints a token for any user id you type. It exists only for development and is switched off when one is.</p>
          <label>User id<input name="subject" required placeholder="user:alice" autoComplete="username" /></label>
          <fieldset>
            <legend>Roles (none: a data subject)</legend>
            {ROLES.map(([role, label]) => (
              <label key={role}><input type="checkbox" name="roles" value={role} /> {label}</label>
            ))}
          </fieldset>
          <button type="submit" aria-busy={busy} disabled={busy}>Sign in (development)</button>
        </form>
      ) : null}
    </main>
  );
}
