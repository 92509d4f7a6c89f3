/** A subject: find them; export; erase with a typed confirmation (legal holds shown); place or release a hold. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, download, when } from '../api.js';
import { json, Loading, Problem } from '../ui.js';

type Found = Awaited<ReturnType<typeof api.dpo.findSubjects.query>>[number];

export function Subjects() {
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const found = useQuery({ queryKey: ['dpo.findSubjects', query], queryFn: () => api.dpo.findSubjects.query({ query }), enabled: query.length >= 2 });
  return (
    <section aria-labelledby="subjects-title">
      <h2 id="subjects-title">Subjects</h2>
      <form role="search" onSubmit={(event) => { event.preventDefault(); setSelected(null); setQuery(String(new FormData(event.currentTarget).get('query') ?? '').trim()); }}>
        <label>Find a subject by user id, username or e-mail<input name="query" type="search" minLength={2} required /></label>
        <button type="submit">Search</button>
      </form>
      {query.length < 2 ? null : found.isPending ? <Loading what="subjects" /> : found.error ? <Problem error={found.error} /> : found.data!.length === 0 ? <p role="status">No subject matches.</p> : (
        <ul className="found" aria-label="Subjects found">
          {found.data!.map((s) => (
            <li key={s.user_id}>
              <button type="button" className={selected === s.user_id ? '' : 'outline'} aria-pressed={selected === s.user_id} onClick={() => setSelected(s.user_id)}>
                {s.user_id}</button> {s.email ?? ''} {s.legal_hold_reason ? <mark>legal hold</mark> : null}
            </li>
          ))}
        </ul>
      )}
      {selected && found.data ? <Subject subject={found.data.find((s) => s.user_id === selected)!} onGone={() => setSelected(null)} /> : null}
    </section>
  );
}

function Subject({ subject, onGone }: { subject: Found; onGone: () => void }) {
  const client = useQueryClient();
  const refresh = () => client.invalidateQueries({ queryKey: ['dpo.findSubjects'] });
  const [typed, setTyped] = useState('');
  const exportData = useMutation({
    mutationFn: (format: 'json' | 'csv') => api.dpo.export.query({ user_id: subject.user_id, format }),
    onSuccess: (document, format) => {
      const file = document as { filename?: string; content?: string };
      if (format === 'csv') download(file.filename ?? 'export.csv', file.content ?? '', 'text/csv');
      else download(`${subject.user_id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`, json(document), 'application/json');
    },
  });
  const place = useMutation({ mutationFn: (reason: string) => api.dpo.placeLegalHold.mutate({ user_id: subject.user_id, reason }), onSuccess: refresh });
  const release = useMutation({ mutationFn: () => api.dpo.releaseLegalHold.mutate({ user_id: subject.user_id }), onSuccess: refresh });
  const erase = useMutation({ mutationFn: (reason: string) => api.dpo.erase.mutate({ user_id: subject.user_id, reason, confirm: true }) });
  const submitHold = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    place.mutate(String(new FormData(event.currentTarget).get('reason')).trim());
  };
  const submitErase = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    erase.mutate(String(new FormData(event.currentTarget).get('reason')).trim());
  };
  if (erase.data) {
    return (
      <article aria-labelledby="subject-title">
        <h3 id="subject-title">{subject.user_id} is erased</h3>
        <pre aria-label="Erasure receipt">{json(erase.data)}</pre>
        <button type="button" onClick={() => { refresh(); onGone(); }}>Done</button>
      </article>
    );
  }
  return (
    <article aria-labelledby="subject-title">
      <h3 id="subject-title">{subject.user_id}</h3>
      <p>{subject.username ?? '—'} · {subject.email ?? '—'} · since {when(subject.created_at)} · {subject.open_requests} open request(s)</p>
      <div role="group">
        <button type="button" onClick={() => exportData.mutate('json')} aria-busy={exportData.isPending && exportData.variables === 'json'}>Export as JSON</button>
        <button type="button" className="secondary" onClick={() => exportData.mutate('csv')} aria-busy={exportData.isPending && exportData.variables === 'csv'}>Export as CSV</button>
      </div>
      <Problem error={exportData.error} />
      <h4>Legal hold</h4>
      {subject.legal_hold_reason ? (
        <>
          <p><mark>Under legal hold</mark> since {when(subject.legal_hold_placed_at)}: {subject.legal_hold_reason}. Erasure and retention are stopped.</p>
          <button type="button" className="outline" onClick={() => release.mutate()} aria-busy={release.isPending}>Release the legal hold</button>
        </>
      ) : (
        <form onSubmit={submitHold}>
          <label>Reason for a legal hold<input name="reason" required /></label>
          <button type="submit" className="outline" aria-busy={place.isPending}>Place a legal hold</button>
        </form>
      )}
      <Problem error={place.error ?? release.error} />
      <h4>Erase</h4>
      <form onSubmit={submitErase}>
        <label>Reason for the erasure<input name="reason" required defaultValue="GDPR Art. 17 request" /></label>
        <label>Type the user id <kbd>{subject.user_id}</kbd> to confirm
          <input value={typed} onChange={(event) => setTyped(event.currentTarget.value)} autoComplete="off" /></label>
        <button type="submit" className="danger" disabled={typed.trim() !== subject.user_id || erase.isPending} aria-busy={erase.isPending}>Erase {subject.user_id}</button>
      </form>
      <Problem error={erase.error} explain={{ LHOLD: 'The subject is under a legal hold: release it first, when the legal matter allows (GDPR Art. 17(3)(e)).' }} />
    </article>
  );
}
