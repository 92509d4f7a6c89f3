/**
 * Automatic logoff (HIPAA §164.312(a)(2)(iii)): a warning two minutes before the session's idle
 * timeout (13 of 15 minutes), then sign-out with the reason shown. The server enforces the same
 * timeout on its side (SESXP); this is what the person sees.
 */
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSession } from './session.js';

const ACTIVITY = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;

export function IdleGuard() {
  const { t } = useTranslation();
  const { config, signOut } = useSession();
  const timeout = config.session_idle_timeout_seconds * 1000;
  const warnAfter = timeout - Math.min(120_000, timeout * 2 / 15);
  const lastActivity = useRef(Date.now());
  const [secondsLeft, setSecondsLeft] = useState<number | null>(null);

  useEffect(() => {
    const touch = () => {
      lastActivity.current = Date.now();
    };
    for (const event of ACTIVITY) window.addEventListener(event, touch, { passive: true });
    const timer = setInterval(() => {
      const idle = Date.now() - lastActivity.current;
      if (idle >= timeout) {
        signOut(t('idle.signedOut', { minutes: Math.round(timeout / 60_000) }));
      } else {
        setSecondsLeft(idle >= warnAfter ? Math.ceil((timeout - idle) / 1000) : null);
      }
    }, 1000);
    return () => {
      clearInterval(timer);
      for (const event of ACTIVITY) window.removeEventListener(event, touch);
    };
  }, [timeout, warnAfter, signOut, t]);

  if (secondsLeft === null) return null;
  return (
    <dialog open aria-labelledby="idle-title" aria-describedby="idle-text">
      <article>
        <h2 id="idle-title">{t('idle.title')}</h2>
        <p id="idle-text" role="alert">{t('idle.warning', { count: secondsLeft })}</p>
        <footer>
          <button type="button" autoFocus onClick={() => { lastActivity.current = Date.now(); setSecondsLeft(null); }}>{t('idle.stay')}</button>
        </footer>
      </article>
    </dialog>
  );
}
