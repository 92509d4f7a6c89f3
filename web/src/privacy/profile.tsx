/** My data: the profile, rectified inline (GDPR Art. 16), and the preferences. */
import { useMutation, useQuery, useQueryClient, type UseQueryResult } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, when } from '../api.js';
import { Facts, json, Loading, SubjectProblem } from '../ui.js';

type ProfileQuery = UseQueryResult<Awaited<ReturnType<typeof api.me.profile.query>>>;

export function Profile({ profile }: { profile: ProfileQuery }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [saved, setSaved] = useState(false);
  const update = useMutation({
    mutationFn: (patch: { username?: string | null; email?: string | null; full_name?: string | null }) => api.me.updateProfile.mutate(patch),
    // "Saved." once the form shows what was saved: the refetch remounts the form (its key), and
    // would otherwise wipe what the person typed after seeing "Saved."
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ['me.profile'] });
      setSaved(true);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name: string) => (String(form.get(name) ?? '').trim() || null);
    setSaved(false);
    update.mutate({ username: value('username'), email: value('email'), full_name: value('full_name') });
  };
  // an edit, or a value the browser refuses, makes "Saved." stale
  const stale = () => {
    setSaved(false);
    update.reset();
  };
  if (profile.error) {
    return (
      <section aria-labelledby="profile-title">
        <h2 id="profile-title">{t('profile.title')}</h2>
        <SubjectProblem error={profile.error} />
      </section>
    );
  }
  const p = profile.data!;
  return (
    <section aria-labelledby="profile-title">
      <h2 id="profile-title">{t('profile.title')}</h2>
      <p>{t('profile.intro', { since: when(p.created_at), id: p.user_id })}</p>
      <form onSubmit={submit} onInput={stale} onInvalidCapture={stale} key={`${p.username}|${p.email}|${p.full_name}`}>
        <div className="grid">
          <label>{t('profile.username')}<input name="username" defaultValue={p.username ?? ''} autoComplete="username" /></label>
          <label>{t('profile.email')}<input name="email" type="email" defaultValue={p.email ?? ''} autoComplete="email" /></label>
          <label>{t('profile.fullName')}<input name="full_name" defaultValue={p.full_name ?? ''} autoComplete="name" /></label>
        </div>
        <button type="submit" aria-busy={update.isPending}>{t('profile.save')}</button>
        {saved ? <p role="status">{t('profile.saved')}</p> : null}
        <SubjectProblem error={update.error} />
      </form>
      <Preferences />
    </section>
  );
}

function Preferences() {
  const { t } = useTranslation();
  const preferences = useQuery({ queryKey: ['me.preferences'], queryFn: () => api.me.preferences.query() });
  if (preferences.isPending) return <Loading what={t('privacy.what.preferences')} />;
  if (preferences.error) return <SubjectProblem error={preferences.error} />;
  const entries = Object.entries(preferences.data);
  return (
    <>
      <h3>{t('profile.preferences')}</h3>
      {entries.length === 0 ? <p>{t('profile.noPreferences')}</p> : <Facts facts={entries.map(([k, v]) => [k, typeof v === 'string' ? v : json(v)])} />}
    </>
  );
}
