/** Download my data (GDPR Art. 20) and delete my account (Art. 17): the legal hold explained when it refuses, the receipt when it is done. */
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, download } from '../api.js';
import { day, when } from '../formats.js';
import { Facts, json, SubjectProblem } from '../ui.js';

export function Download() {
  const { t } = useTranslation();
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
      <h2 id="download-title">{t('download.title')}</h2>
      <p>{t('download.intro')}</p>
      <div role="group">
        <button type="button" aria-busy={busy === 'json'} onClick={() => fetchAs('json')}>{t('download.json')}</button>
        <button type="button" className="secondary" aria-busy={busy === 'csv'} onClick={() => fetchAs('csv')}>{t('download.csv')}</button>
      </div>
      <SubjectProblem error={failure} />
    </section>
  );
}

export type Erased = Awaited<ReturnType<typeof api.me.erase.mutate>>['receipt'];
const count = (value: unknown) => (Array.isArray(value) ? value.length : value ? 1 : 0);
/** the tables whose rows an erasure deletes, in the order a person thinks of them */
const ERASED = ['user_profiles', 'user_preferences', 'consent_records', 'conversations', 'messages', 'health_records', 'sessions', 'access_grants',
  'breach_subjects', 'legal_holds', 'processing_limits', 'subject_keys'] as const;
/** what another duty keeps, without the person */
const KEPT = ['consent_proofs_kept', 'emergency_reviews_kept', 'dsr_requests_anonymised'] as const;

export function DeleteAccount({ onErased }: { onErased: (receipt: Erased) => void }) {
  const { t } = useTranslation();
  const phrase = t('erase.phrase');
  const data = useQuery({ queryKey: ['me.data'], queryFn: () => api.me.data.query() });
  const [typed, setTyped] = useState('');
  const erase = useMutation({ mutationFn: () => api.me.erase.mutate({ confirm: true }), onSuccess: (result) => onErased(result.receipt) });
  const document = data.data;
  return (
    <section aria-labelledby="delete-title">
      <h2 id="delete-title">{t('erase.title')}</h2>
      <p>{t('erase.intro')}</p>
      <Facts facts={[
        [t('erase.held.profile'), document?.profile ? t('erase.held.yes') : t('erase.held.none')],
        [t('erase.held.preferences'), document?.preferences && Object.keys(document.preferences.preferences).length ? t('erase.held.yes') : t('erase.held.none')],
        [t('erase.held.consents'), count(document?.consents)],
        [t('erase.held.conversations'), count(document?.conversations)],
        [t('erase.held.health'), count(document?.health_records)],
      ]} />
      <label>{t('erase.typeToConfirm', { phrase })}
        <input value={typed} onChange={(event) => setTyped(event.currentTarget.value)} autoComplete="off" aria-describedby="delete-help" />
      </label>
      <small id="delete-help">{t('erase.help')}</small>
      <button type="button" className="danger" disabled={typed.trim().toLowerCase() !== phrase.toLowerCase() || erase.isPending} aria-busy={erase.isPending}
        onClick={() => erase.mutate()}>{t('erase.button')}</button>
      <SubjectProblem error={erase.error} />
    </section>
  );
}

/** the receipt of an erasure, as the person it was about reads it */
export function ErasureReceipt({ erased, onFinish }: { erased: Erased; onFinish: () => void }) {
  const { t } = useTranslation();
  // pgcomply's own tables count rows; the product's registered tables, by name, say what happened to theirs
  const deleted = Object.fromEntries(Object.entries(erased.deleted).filter(([, n]) => typeof n === 'number')) as Record<string, number>;
  const registered = Object.entries((erased.deleted.registered_tables ?? {}) as Record<string, { deleted?: number; anonymized?: number }>)
    .map(([name, done]) => ({ table: name.slice(name.indexOf('.') + 1).replace(/_/g, ' '), ...done }));
  const gone = ERASED.filter((table) => (deleted[table] ?? 0) > 0);
  const kept = KEPT.filter((what) => (deleted[what] ?? 0) > 0);
  return (
    <section aria-labelledby="receipt-title" className="receipt">
      <h1 id="receipt-title">{t('receipt.title')}</h1>
      <p role="status">{t('receipt.intro')}</p>
      <Facts facts={[[t('receipt.when'), when(erased.erased_at)], [t('receipt.reference'), t('receipt.request', { id: erased.dsr_request_id })]]} />
      <h2>{t('receipt.erased')}</h2>
      <ul aria-label={t('receipt.erased')}>
        {gone.map((table) => <li key={table}>{t(`receipt.table.${table}`, { count: deleted[table] })}</li>)}
        {registered.filter((r) => (r.deleted ?? 0) > 0).map((r) => <li key={r.table}>{t('receipt.registered.deleted', { count: r.deleted, table: r.table })}</li>)}
      </ul>
      <h2>{t('receipt.kept')}</h2>
      <ul aria-label={t('receipt.kept')}>
        <li>{t('receipt.keep.audit', { count: erased.audit_rows_redacted })}</li>
        {kept.map((what) => <li key={what}>{t(`receipt.keep.${what}`, { count: deleted[what] })}</li>)}
        {registered.filter((r) => (r.anonymized ?? 0) > 0).map((r) => <li key={r.table}>{t('receipt.registered.anonymized', { count: r.anonymized, table: r.table })}</li>)}
      </ul>
      <h2>{t('receipt.othersTitle')}</h2>
      {erased.other_systems.length === 0 ? <p>{t('receipt.noOthers')}</p> : (
        <>
          <p>{t('receipt.others')}</p>
          <ul aria-label={t('receipt.othersTitle')}>{erased.other_systems.map((s) => <li key={s.task_id}>{s.name}</li>)}</ul>
        </>
      )}
      <p>{t('receipt.save', { date: day(erased.erased_at) })}</p>
      <div role="group">
        <button type="button" className="secondary" onClick={() => download(`erasure_receipt_${erased.dsr_request_id}.json`, json(erased), 'application/json')}>
          {t('receipt.download')}</button>
        <button type="button" onClick={onFinish}>{t('receipt.finish')}</button>
      </div>
    </section>
  );
}
