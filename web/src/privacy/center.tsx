/**
 * The privacy center at /: everything a signed-in data subject can see and do about their data.
 * An erased subject who signs in again sees one explanation, not each section's refusal.
 */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, problemOf } from '../api.js';
import { useSession } from '../session.js';
import { Loading } from '../ui.js';
import { AccessLog, Conversations, HealthRecords } from './activity.js';
import { Consents } from './consents.js';
import { HowWeUseYourData } from './processing.js';
import { Profile } from './profile.js';
import { DeleteAccount, Download, ErasureReceipt, type Erased } from './rights.js';

export function PrivacyCenter() {
  const { t } = useTranslation();
  const { identity, signOut } = useSession();
  const [erased, setErased] = useState<Erased | null>(null);
  // the profile answers first: an erased subject (ERASD) or an unknown one decides the whole page
  const profile = useQuery({ queryKey: ['me.profile'], queryFn: () => api.me.profile.query() });
  const finish = () => signOut(t('privacy.erasedSignedOut'), { sessionGone: true });
  if (erased) return <main className="container"><ErasureReceipt erased={erased} onFinish={finish} /></main>;
  if (profile.isPending) return <main className="container"><Loading what={t('privacy.what.profile')} /></main>;
  if (problemOf(profile.error).sqlstate === 'ERASD') {
    return (
      <main className="container">
        <h1>{t('privacy.gone.title')}</h1>
        <p role="status">{t('privacy.gone.text')}</p>
        <p>{t('privacy.gone.again')}</p>
        <p><small>{t('subjectProblem.reference', { reference: 'ERASD' })}</small></p>
        <button type="button" onClick={() => signOut(t('session.signedOut'))}>{t('nav.signOut')}</button>
      </main>
    );
  }
  return (
    <main className="container">
      <h1>{t('privacy.title')}</h1>
      <p>{t('privacy.intro', { subject: identity?.subject })}</p>
      <Profile profile={profile} />
      <Consents />
      <HowWeUseYourData />
      <Conversations />
      <HealthRecords />
      <Download />
      <AccessLog />
      <DeleteAccount onErased={setErased} />
    </main>
  );
}
