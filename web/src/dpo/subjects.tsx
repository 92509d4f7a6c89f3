/**
 * Subjects: find one, then their page: what is held (counts per section), their requests and
 * legal holds, consent history and access log; export, hold or release, erase with a typed
 * confirmation. After an action the page shows what is true now.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { exportFileName } from '../../../server/csv.js';
import { AccessLogTable } from '../access-log.js';
import { api, download, when } from '../api.js';
import { Loading, Problem, json } from '../ui.js';

type Found = Awaited<ReturnType<typeof api.dpo.findSubjects.query>>[number];
type Receipt = Awaited<ReturnType<typeof api.dpo.erase.mutate>>;

export function Subjects() {
  const { t } = useTranslation();
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [erased, setErased] = useState<{ user_id: string; receipt: Receipt } | null>(null);
  const found = useQuery({ queryKey: ['dpo.findSubjects', query], queryFn: () => api.dpo.findSubjects.query({ query }), enabled: query.length >= 2 });
  const subject = found.data?.find((s) => s.user_id === selected);
  return (
    <section aria-labelledby="subjects-title">
      <h2 id="subjects-title">{t('subjects.title')}</h2>
      <form role="search" onSubmit={(event) => { event.preventDefault(); setSelected(null); setErased(null); setQuery(String(new FormData(event.currentTarget).get('query') ?? '').trim()); }}>
        <label>{t('subjects.find')}<input name="query" type="search" minLength={2} required /></label>
        <button type="submit">{t('subjects.search')}</button>
      </form>
      {query.length < 2 ? null : found.isPending ? <Loading what={t('subjects.what')} /> : found.error ? <Problem error={found.error} /> : found.data!.length === 0 ? <p role="status">{t('subjects.noMatch')}</p> : (
        <ul className="found" aria-label={t('subjects.found')}>
          {found.data!.map((s) => (
            <li key={s.user_id}>
              <button type="button" className={selected === s.user_id ? '' : 'outline'} aria-pressed={selected === s.user_id} onClick={() => { setErased(null); setSelected(s.user_id); }}>
                {s.user_id}</button> {s.email ?? ''} {s.legal_hold_reason ? <mark>{t('subjects.legalHold')}</mark> : null}
            </li>
          ))}
        </ul>
      )}
      {erased ? <Erased {...erased} onDone={() => setErased(null)} /> : null}
      {subject ? <Subject subject={subject} onErased={(receipt) => { setSelected(null); setErased({ user_id: subject.user_id, receipt }); }} /> : null}
    </section>
  );
}

function Erased({ user_id, receipt, onDone }: { user_id: string; receipt: Receipt; onDone: () => void }) {
  const { t } = useTranslation();
  return (
    <article aria-labelledby="erased-title">
      <h3 id="erased-title">{t('subjects.erasedTitle', { id: user_id })}</h3>
      <p role="status">{t('subjects.erasedText', { at: when(receipt.erased_at), request: receipt.dsr_request_id, redacted: receipt.audit_rows_redacted })}</p>
      <pre aria-label={t('subjects.receipt')}>{json(receipt)}</pre>
      <button type="button" onClick={onDone}>{t('subjects.done')}</button>
    </article>
  );
}

function Subject({ subject, onErased }: { subject: Found; onErased: (receipt: Receipt) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const id = subject.user_id;
  const overview = useQuery({ queryKey: ['dpo.subjectOverview', id], queryFn: () => api.dpo.subjectOverview.query({ user_id: id }) });
  const consents = useQuery({ queryKey: ['dpo.consents', id], queryFn: () => api.dpo.consents.query({ user_id: id }) });
  const log = useQuery({ queryKey: ['dpo.subjectAccessLog', id], queryFn: () => api.dpo.subjectAccessLog.query({ user_id: id, page_size: 50, others_only: true }) });
  const refresh = () => Promise.all([['dpo.findSubjects'], ['dpo.subjectOverview', id]].map((queryKey) => client.invalidateQueries({ queryKey })));
  const [typed, setTyped] = useState('');
  const exportData = useMutation({
    mutationFn: (format: 'json' | 'csv') => api.dpo.export.query({ user_id: id, format }),
    onSuccess: (document, format) => {
      // one file-name scheme for both formats (the server's exportFileName)
      const file = document as { filename?: unknown; content?: unknown };
      if (format === 'csv' && typeof file.content === 'string') download(exportFileName(id, 'csv'), file.content, 'text/csv');
      else download(exportFileName(id, 'json'), json(document), 'application/json');
    },
  });
  const erase = useMutation({
    mutationFn: (reason: string) => api.dpo.erase.mutate({ user_id: id, reason, confirm: true }),
    onSuccess: async (receipt) => {
      await client.invalidateQueries({ queryKey: ['dpo.findSubjects'] });
      onErased(receipt);
    },
  });
  const place = useMutation({ mutationFn: (reason: string) => api.dpo.placeLegalHold.mutate({ user_id: id, reason }), onSuccess: refresh });
  // a released hold makes the refusal it caused stale
  const release = useMutation({ mutationFn: () => api.dpo.releaseLegalHold.mutate({ user_id: id }), onSuccess: async () => { erase.reset(); place.reset(); await refresh(); } });
  const submitHold = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    release.reset();
    place.mutate(String(new FormData(event.currentTarget).get('reason')).trim());
  };
  const submitErase = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    erase.mutate(String(new FormData(event.currentTarget).get('reason')).trim());
  };
  return (
    <article aria-labelledby="subject-title" className="subject">
      <h3 id="subject-title">{id}</h3>
      <p>{t('subjects.summary', { username: subject.username ?? '—', email: subject.email ?? '—', since: when(subject.created_at), count: subject.open_requests })}</p>

      <h4>{t('subjects.held')}</h4>
      {overview.isPending ? <Loading what={t('subjects.what_.overview')} /> : overview.error ? <Problem error={overview.error} /> : (
        <table aria-label={t('subjects.held')}>
          <thead><tr><th scope="col">{t('subjects.section')}</th><th scope="col">{t('subjects.count')}</th></tr></thead>
          <tbody>{Object.entries(overview.data!.sections).map(([section, n]) => <tr key={section}><th scope="row">{t(`subjects.sections.${section}`, { defaultValue: section })}</th><td>{n}</td></tr>)}</tbody>
        </table>
      )}
      <div role="group">
        <button type="button" onClick={() => exportData.mutate('json')} aria-busy={exportData.isPending && exportData.variables === 'json'}>{t('subjects.exportJson')}</button>
        <button type="button" className="secondary" onClick={() => exportData.mutate('csv')} aria-busy={exportData.isPending && exportData.variables === 'csv'}>{t('subjects.exportCsv')}</button>
      </div>
      <Problem error={exportData.error} />

      <h4>{t('subjects.requests')}</h4>
      {overview.data ? (overview.data.requests.length === 0 ? <p>{t('subjects.noRequests')}</p> : (
        <table aria-label={t('subjects.requests')}>
          <thead><tr><th scope="col">#</th><th scope="col">{t('column.kind')}</th><th scope="col">{t('column.status')}</th><th scope="col">{t('column.received')}</th><th scope="col">{t('column.due')}</th><th scope="col">{t('column.completed')}</th></tr></thead>
          <tbody>{overview.data.requests.map((r) => (
            <tr key={r.id}><td>{r.id}</td><td>{t(`requestKind.${r.kind}`)}</td><td>{t(`requestStatus.${r.status}`, { defaultValue: r.status })}</td><td>{when(r.received_at)}</td><td>{when(r.due_at)}</td><td>{when(r.completed_at)}</td></tr>
          ))}</tbody>
        </table>
      )) : null}

      <h4>{t('subjects.holds')}</h4>
      {overview.data && overview.data.holds.length > 0 ? (
        <table aria-label={t('subjects.holds')}>
          <thead><tr><th scope="col">{t('column.reason')}</th><th scope="col">{t('subjects.placed')}</th><th scope="col">{t('subjects.released')}</th></tr></thead>
          <tbody>{overview.data.holds.map((h) => (
            <tr key={h.id}><td>{h.reason}</td><td>{when(h.placed_at)} {h.placed_by ?? ''}</td><td>{h.released_at ? `${when(h.released_at)} ${h.released_by ?? ''}` : <mark>{t('subjects.active')}</mark>}</td></tr>
          ))}</tbody>
        </table>
      ) : <p>{t('subjects.noHolds')}</p>}
      {subject.legal_hold_reason ? (
        <>
          <p><mark>{t('subjects.underHold')}</mark> {t('subjects.holdSince', { at: when(subject.legal_hold_placed_at), reason: subject.legal_hold_reason })}</p>
          <button type="button" className="outline" onClick={() => release.mutate()} aria-busy={release.isPending}>{t('subjects.release')}</button>
        </>
      ) : (
        <form onSubmit={submitHold}>
          <label>{t('subjects.holdReason')}<input name="reason" required /></label>
          <button type="submit" className="outline" aria-busy={place.isPending}>{t('subjects.place')}</button>
        </form>
      )}
      {release.isSuccess ? <p role="status">{t('subjects.releasedNow')}</p> : null}
      <Problem error={place.error ?? release.error} />

      <h4>{t('subjects.consentHistory')}</h4>
      {consents.isPending ? <Loading what={t('subjects.what_.consents')} /> : consents.error ? <Problem error={consents.error} /> : consents.data!.history.length === 0 ? <p>{t('consents.noDecision')}</p> : (
        <table aria-label={t('subjects.consentHistory')}>
          <thead><tr><th scope="col">{t('column.when')}</th><th scope="col">{t('column.purpose')}</th><th scope="col">{t('column.decision')}</th><th scope="col">{t('column.version')}</th><th scope="col">{t('column.source')}</th></tr></thead>
          <tbody>{consents.data!.history.map((r) => (
            <tr key={r.id}><td>{when(r.recorded_at)}</td><td>{r.purpose}</td><td>{t(r.granted ? 'consents.granted' : 'consents.withdrawn')}</td><td>{r.policy_version}</td><td>{r.source}</td></tr>
          ))}</tbody>
        </table>
      )}

      <h4>{t('subjects.accessLog')}</h4>
      {log.isPending ? <Loading what={t('subjects.what_.accessLog')} /> : log.error ? <Problem error={log.error} /> : log.data!.entries.length === 0 ? <p>{t('subjects.noAccess')}</p> : (
        <AccessLogTable entries={log.data!.entries} subject={id} perspective="dpo" label={t('subjects.accessLog')} />
      )}

      <h4>{t('subjects.erase')}</h4>
      <form onSubmit={submitErase}>
        <label>{t('subjects.eraseReason')}<input name="reason" required defaultValue={t('subjects.eraseReasonDefault')} /></label>
        <label>{t('subjects.typeId', { id })}
          <input value={typed} onChange={(event) => setTyped(event.currentTarget.value)} autoComplete="off" /></label>
        <button type="submit" className="danger" disabled={typed.trim() !== id || erase.isPending} aria-busy={erase.isPending}>{t('subjects.eraseButton', { id })}</button>
      </form>
      <Problem error={erase.error} explain={{ LHOLD: 'explain.subjects.LHOLD' }} />
    </article>
  );
}
