/** My data: the profile, rectified inline (GDPR Art. 16), and the preferences. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, when } from '../api.js';
import { Facts, json, Loading, Problem } from '../ui.js';

export function Profile() {
  const client = useQueryClient();
  const profile = useQuery({ queryKey: ['me.profile'], queryFn: () => api.me.profile.query() });
  const [saved, setSaved] = useState(false);
  const update = useMutation({
    mutationFn: (patch: { username?: string | null; email?: string | null; full_name?: string | null }) => api.me.updateProfile.mutate(patch),
    onSuccess: async () => {
      setSaved(true);
      await client.invalidateQueries({ queryKey: ['me.profile'] });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = (name: string) => (String(form.get(name) ?? '').trim() || null);
    setSaved(false);
    update.mutate({ username: value('username'), email: value('email'), full_name: value('full_name') });
  };
  if (profile.isPending) return <Loading what="your profile" />;
  if (profile.error) return <Problem error={profile.error} explain={{ UNKSJ: 'Nothing is stored about you yet.' }} />;
  const p = profile.data;
  return (
    <section aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <p>Stored since {when(p.created_at)} under the id <code>{p.user_id}</code>. Correct anything that is wrong (GDPR Art. 16).</p>
      <form onSubmit={submit} key={`${p.username}|${p.email}|${p.full_name}`}>
        <div className="grid">
          <label>Username<input name="username" defaultValue={p.username ?? ''} autoComplete="username" /></label>
          <label>E-mail<input name="email" type="email" defaultValue={p.email ?? ''} autoComplete="email" /></label>
          <label>Full name<input name="full_name" defaultValue={p.full_name ?? ''} autoComplete="name" /></label>
        </div>
        <button type="submit" aria-busy={update.isPending}>Save profile</button>
        {saved ? <p role="status">Saved. The change and the old values are in the audit log.</p> : null}
        <Problem error={update.error} />
      </form>
      <Preferences />
    </section>
  );
}

function Preferences() {
  const preferences = useQuery({ queryKey: ['me.preferences'], queryFn: () => api.me.preferences.query() });
  if (preferences.isPending) return <Loading what="your preferences" />;
  if (preferences.error) return <Problem error={preferences.error} />;
  const entries = Object.entries(preferences.data);
  return (
    <>
      <h3>Preferences</h3>
      {entries.length === 0 ? <p>No preferences are stored.</p> : <Facts facts={entries.map(([k, v]) => [k, typeof v === 'string' ? v : json(v)])} />}
    </>
  );
}
