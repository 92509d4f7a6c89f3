/** The pages' shell: configuration, sign-in, idle logoff, and the two pages (/ and /dpo). */
import '@picocss/pico/css/pico.min.css';
import './styles.css';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { useTranslation } from 'react-i18next';
import { problemOf } from './api.js';
import './i18n.js';
import { LANGUAGES, type Language } from './i18n.js';
import { DpoConsole } from './dpo/console.js';
import { IdleGuard } from './idle.js';
import { PrivacyCenter } from './privacy/center.js';
import { SessionProvider, useSession, useUiConfig } from './session.js';
import { SignIn } from './sign-in.js';
import { StepUpDialog } from './step-up.js';
import type { ApiProblem } from './api.js';

function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    window.addEventListener('popstate', onPop);
    // a sign-in that came back from the identity provider may have moved to where it started
    // (Returned) before this listener existed: take the address as it is now
    onPop();
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return [path, (next) => {
    history.pushState(null, '', next);
    setPath(next);
  }];
}

/** the reader's language, remembered in this browser */
function LanguagePicker() {
  const { t, i18n } = useTranslation();
  return (
    <label className="language">
      <span className="visually-hidden">{t('nav.language')}</span>
      <select value={i18n.resolvedLanguage} onChange={(event) => void i18n.changeLanguage(event.currentTarget.value as Language)} aria-label={t('nav.language')}>
        {Object.entries(LANGUAGES).map(([code, name]) => <option key={code} value={code} lang={code}>{name}</option>)}
      </select>
    </label>
  );
}

function Pages() {
  const { t } = useTranslation();
  const { identity, signOut } = useSession();
  const [path, go] = usePath();
  const [stepUp, setStepUp] = useState<ApiProblem['stepUp']>(null);
  // the server ended the session (idle on its side, or closed): sign out and say why; it wants a
  // stronger or fresher sign-in (step-up): ask the person to confirm it is them
  const [client] = useState(() => {
    const onError = (error: unknown) => {
      const problem = problemOf(error);
      if (problem.stepUp) setStepUp(problem.stepUp);
      else if (problem.code === 'UNAUTHORIZED') signOut(t('session.ended'), { sessionGone: true });
    };
    return new QueryClient({ queryCache: new QueryCache({ onError }), mutationCache: new MutationCache({ onError }),
      defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } } });
  });
  if (!identity) return <><header className="container"><nav aria-label={t('nav.main')}><ul><li><strong>pgcomply</strong></li></ul><ul><li><LanguagePicker /></li></ul></nav></header><SignIn /></>;
  const staffRoles = ['dpo', 'approver', 'auditor'].filter((r) => identity.roles.includes(r));
  const link = (to: string, label: string) => (
    <li><a href={to} aria-current={path === to ? 'page' : undefined} onClick={(event) => { event.preventDefault(); go(to); }}>{label}</a></li>
  );
  return (
    <QueryClientProvider client={client}>
      <header className="container">
        <nav aria-label={t('nav.main')}>
          <ul><li><strong>pgcomply</strong></li></ul>
          <ul>
            {link('/', t('nav.privacyCenter'))}
            {staffRoles.length ? link('/dpo', t('nav.dpoConsole')) : null}
            <li><LanguagePicker /></li>
            <li><button type="button" className="outline secondary" onClick={() => signOut(t('session.signedOut'))}>{t('nav.signOut')}</button></li>
          </ul>
        </nav>
      </header>
      <IdleGuard />
      {stepUp ? <StepUpDialog stepUp={stepUp} onClose={() => setStepUp(null)} /> : null}
      {path === '/dpo' ? <DpoConsole /> : <PrivacyCenter />}
    </QueryClientProvider>
  );
}

function App() {
  const { config, failure, returned } = useUiConfig();
  const { t } = useTranslation();
  if (!config) return <main className="container"><p aria-busy={!failure} role={failure ? 'alert' : undefined}>{failure ?? t('loadingPage')}</p></main>;
  return (
    <SessionProvider config={config}>
      <Returned token={returned?.token} returnTo={returned?.returnTo} failure={failure} />
      <Pages />
    </SessionProvider>
  );
}

/** completes a sign-in that came back from the identity provider */
function Returned({ token, returnTo, failure }: { token?: string; returnTo?: string; failure: string | null }) {
  const { signIn, signOut } = useSession();
  useEffect(() => {
    if (token) {
      signIn(token);
      if (returnTo && returnTo !== '/') {
        history.replaceState(null, '', returnTo);
        window.dispatchEvent(new PopStateEvent('popstate'));
      }
    } else if (failure) {
      signOut(failure);
    }
  }, [token, returnTo, failure, signIn, signOut]);
  return null;
}

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>);
