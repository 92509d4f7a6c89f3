/** Sign-in: OIDC with PKCE, a pasted token, or (development only, and said so) a token for a typed user id. */
import { type FormEvent, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { useSession, startOidcSignIn } from './session.js';

/** the roles the development sign-in mints (server/pages.ts DEV_ROLES) */
export const ROLES = ['dpo', 'approver', 'auditor', 'staff'] as const;

export function SignIn() {
  const { t } = useTranslation();
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
      if (!response.ok || !body.token) throw new Error(body.message ?? t('signIn.status', { status: response.status }));
      signIn(body.token);
    } catch (error) {
      setFailure((error as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="container narrow">
      <h1>{t('signIn.title')}</h1>
      {endedBecause ? <p role="status" className="ended">{endedBecause}</p> : null}
      {failure ? <p role="alert" className="problem">{failure}</p> : null}
      {config.auth.mode === 'oidc' ? (
        <button type="button" onClick={() => startOidcSignIn(config.auth as Extract<typeof config.auth, { mode: 'oidc' }>).catch((e: Error) => setFailure(e.message))}>
          {t('signIn.oidc')}
        </button>
      ) : null}
      {config.auth.mode === 'token' ? (
        <form onSubmit={(event) => { event.preventDefault(); signIn(String(new FormData(event.currentTarget).get('token') ?? '').trim()); }}>
          <label>{t('signIn.token')}<textarea name="token" required rows={4} /></label>
          <button type="submit">{t('signIn.submit')}</button>
        </form>
      ) : null}
      {config.auth.mode === 'development' ? (
        <form onSubmit={developmentSignIn} aria-describedby="dev-note">
          <p id="dev-note" className="dev-note"><Trans i18nKey="signIn.developmentNote" components={{ strong: <strong /> }} /></p>
          <label>{t('signIn.userId')}<input name="subject" required placeholder="user:alice" autoComplete="username" /></label>
          <fieldset>
            <legend>{t('signIn.roles')}</legend>
            {ROLES.map((role) => (
              <label key={role}><input type="checkbox" name="roles" value={role} /> {t(`role.${role}`)}</label>
            ))}
          </fieldset>
          <button type="submit" aria-busy={busy} disabled={busy}>{t('signIn.development')}</button>
        </form>
      ) : null}
    </main>
  );
}
