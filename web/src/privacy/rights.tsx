/** Download my data (GDPR Art. 20) and delete my account (Art. 17), with the legal hold explained when it refuses. */
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, download } from '../api.js';
import { Facts, json, Problem } from '../ui.js';

export function Download() {
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const fetchAs = async (format: 'json' | 'csv') => {
    setBusy(format);
    setFailure(null);
    try {
      const file = await api.me.export.query({ format });
      download(file.filename, typeof file.content === 'string' ? file.content : json(file.content), format === 'csv' ? 'text/csv' : 'application/json');
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(null);
    }
  };
  return (
    <section aria-labelledby="download-title">
      <h2 id="download-title">Download my data</h2>
      <p>Everything held about you, in a form another service can read (GDPR Art. 20).</p>
      <div role="group">
        <button type="button" aria-busy={busy === 'json'} onClick={() => fetchAs('json')}>Download as JSON</button>
        <button type="button" className="secondary" aria-busy={busy === 'csv'} onClick={() => fetchAs('csv')}>Download as CSV</button>
      </div>
      <Problem error={failure} />
    </section>
  );
}

const PHRASE = 'delete my account';
const count = (value: unknown) => (Array.isArray(value) ? value.length : value ? 1 : 0);

export function DeleteAccount({ onErased }: { onErased: () => void }) {
  const data = useQuery({ queryKey: ['me.data'], queryFn: () => api.me.data.query() });
  const [typed, setTyped] = useState('');
  const erase = useMutation({ mutationFn: () => api.me.erase.mutate({ confirm: true }) });
  const document = (data.data ?? {}) as Record<string, unknown>;
  if (erase.data) {
    return (
      <section aria-labelledby="delete-title">
        <h2 id="delete-title">Your account is deleted</h2>
        <p role="status">{erase.data.message}. Keep this receipt: it is what pgcomply recorded about the erasure.</p>
        <pre aria-label="Erasure receipt">{json(erase.data.receipt)}</pre>
        <button type="button" onClick={onErased}>Finish and sign out</button>
      </section>
    );
  }
  return (
    <section aria-labelledby="delete-title">
      <h2 id="delete-title">Delete my account</h2>
      <p>This erases everything below for good (GDPR Art. 17). The audit log keeps that it happened, never who you were.</p>
      <Facts facts={[
        ['Profile', document.profile ? 'yes' : 'none'],
        ['Preferences', document.preferences && Object.keys(document.preferences as object).length ? 'yes' : 'none'],
        ['Consent records', count(document.consents)],
        ['Conversations', count(document.conversations)],
        ['Health records', count(document.health_records)],
      ]} />
      <label>Type <kbd>{PHRASE}</kbd> to confirm
        <input value={typed} onChange={(event) => setTyped(event.currentTarget.value)} autoComplete="off" aria-describedby="delete-help" />
      </label>
      <small id="delete-help">The button works only with the phrase typed exactly.</small>
      <button type="button" className="danger" disabled={typed.trim().toLowerCase() !== PHRASE || erase.isPending} aria-busy={erase.isPending}
        onClick={() => erase.mutate()}>Delete my account</button>
      <Problem error={erase.error} explain={{
        LHOLD: 'Your data is under a legal hold: the law requires it to be kept while a legal matter is open (GDPR Art. 17(3)(e)). Nothing was deleted. The data protection officer releases the hold when the matter allows; then you can delete your account.',
      }} />
    </section>
  );
}
