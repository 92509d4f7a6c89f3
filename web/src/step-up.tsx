/**
 * A step-up challenge (RFC 9470): the API wants a second factor or a sign-in from the last few
 * minutes before a grave action. The person confirms it is them at the identity provider (with
 * prompt=login, max_age and acr_values) and comes back to the same page to do it again; in
 * development the sign-in page mints a fresh token for the same person.
 */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiProblem } from './api.js';
import { startOidcSignIn, useSession } from './session.js';
import { ROLES } from './sign-in.js';

export function StepUpDialog({ stepUp, onClose }: { stepUp: NonNullable<ApiProblem['stepUp']>; onClose: () => void }) {
  const { t } = useTranslation();
  const { config, identity, signIn } = useSession();
  const [failure, setFailure] = useState<string | null>(null);
  const again = async () => {
    setFailure(null);
    try {
      if (config.auth.mode === 'oidc') {
        await startOidcSignIn(config.auth, stepUp);
        return;
      }
      if (config.auth.mode === 'development' && identity) {
        const response = await fetch('/ui/dev-token', { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ subject: identity.subject, roles: identity.roles.filter((r) => (ROLES as readonly string[]).includes(r)) }) });
        const body = await response.json() as { token?: string; message?: string };
        if (!response.ok || !body.token) throw new Error(body.message ?? String(response.status));
        signIn(body.token);
        onClose();
        return;
      }
      onClose();
    } catch (error) {
      setFailure((error as Error).message);
    }
  };
  return (
    <dialog open aria-labelledby="step-up-title" aria-describedby="step-up-text">
      <article>
        <h2 id="step-up-title">{t('stepUp.title')}</h2>
        <p id="step-up-text">{stepUp.max_age !== null ? t('stepUp.recent', { minutes: Math.round(stepUp.max_age / 60) }) : t('stepUp.secondFactor')}</p>
        {config.auth.mode === 'token' ? <p>{t('stepUp.token')}</p> : null}
        {failure ? <p role="alert" className="problem">{failure}</p> : null}
        <footer>
          <button type="button" className="secondary outline" onClick={onClose}>{t('action.cancel')}</button>
          <button type="button" autoFocus onClick={() => void again()}>{t('stepUp.signInAgain')}</button>
        </footer>
      </article>
    </dialog>
  );
}
