/**
 * The breach register and each breach's life (GDPR Art. 33/34, HIPAA §164.404-408): register it,
 * assess it (risk factors, notifiable or why not), record each notification, close it; the
 * deadlines as dates and time left.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { timeLeft, when } from '../formats.js';
import { Facts, Loading, Problem } from '../ui.js';

type Breach = Awaited<ReturnType<typeof api.dpo.breaches.list.query>>[number];
const RUNNING = new Set(['pending', 'due_within_24h', 'overdue']);
const RECIPIENTS = ['authority', 'individuals', 'hhs', 'media'] as const;

/** a local date and time input's value for an instant (the browser's time zone) */
const localInput = (date: Date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

export function Breaches() {
  const { t } = useTranslation();
  const breaches = useQuery({ queryKey: ['dpo.breaches'], queryFn: () => api.dpo.breaches.list.query() });
  const now = useNow();
  return (
    <section aria-labelledby="breaches-title">
      <h2 id="breaches-title">{t('breaches.title')}</h2>
      <Register />
      {breaches.isPending ? <Loading what={t('breaches.what')} /> : breaches.error ? <Problem error={breaches.error} /> : breaches.data!.length === 0 ? <p>{t('breaches.none')}</p> : (
        <>
          <table aria-label={t('breaches.register')}>
            <thead><tr><th scope="col">#</th><th scope="col">{t('breaches.what_')}</th><th scope="col">{t('column.status')}</th><th scope="col">{t('breaches.affected')}</th>
              <th scope="col">{t('breaches.recipient.authority')}</th><th scope="col">{t('breaches.recipient.individuals')}</th></tr></thead>
            <tbody>
              {breaches.data!.map((b) => (
                <tr key={b.breach_id} className={b.authority === 'overdue' || b.individuals === 'overdue' ? 'overdue' : undefined}>
                  <td>{b.breach_id}</td><td>{b.description}</td><td>{t(`breaches.status.${b.status}`)}</td><td>{b.affected_count}</td>
                  <td><Deadline state={b.authority} due={b.authority_due_at} now={now} /></td>
                  <td><Deadline state={b.individuals} due={b.individuals_due_at} now={now} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          {breaches.data!.map((b) => <BreachDetail key={b.breach_id} breach={b} now={now} />)}
        </>
      )}
    </section>
  );
}

function Deadline({ state, due, now }: { state: string; due: string | Date; now: number }) {
  const { t } = useTranslation();
  if (!RUNNING.has(state)) return <>{t(`breaches.deadline.${state}`)}</>;
  const left = timeLeft(t, due, now);
  return <>{t('breaches.dueOn', { date: when(due) })}: {state === 'pending' ? left : <mark>{left}</mark>}</>;
}

function Register() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const open = useMutation({
    mutationFn: (input: { discovered_at: string; description: string; data_categories: string[]; affected_count?: number }) => api.dpo.breaches.open.mutate(input),
    onSuccess: () => client.invalidateQueries({ queryKey: ['dpo.breaches'] }),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const affected = String(form.get('affected') ?? '').trim();
    open.mutate({
      discovered_at: new Date(String(form.get('discovered_at'))).toISOString(),
      description: String(form.get('description') ?? '').trim(),
      data_categories: String(form.get('categories') ?? '').split(',').map((c) => c.trim()).filter(Boolean),
      ...(affected ? { affected_count: Number(affected) } : {}),
    }, { onSuccess: () => (event.target as HTMLFormElement).reset() });
  };
  return (
    <details>
      <summary>{t('breaches.registerTitle')}</summary>
      <form onSubmit={submit}>
        <label>{t('breaches.description')}<textarea name="description" required maxLength={4000} rows={2} /></label>
        <div className="grid">
          <label>{t('breaches.discovered')}<input type="datetime-local" name="discovered_at" required defaultValue={localInput(new Date())} max={localInput(new Date(Date.now() + 60_000))} /></label>
          <label>{t('breaches.categories')}<input name="categories" placeholder={t('breaches.categoriesExample')} /></label>
          <label>{t('breaches.affected')}<input type="number" name="affected" min={0} /></label>
        </div>
        <button type="submit" aria-busy={open.isPending}>{t('breaches.registerButton')}</button>
        {open.data ? <p role="status">{t('breaches.registered', { id: open.data.id })}</p> : null}
        <Problem error={open.error} />
      </form>
    </details>
  );
}

function BreachDetail({ breach: b, now }: { breach: Breach; now: number }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const refresh = () => client.invalidateQueries({ queryKey: ['dpo.breaches'] });
  const assess = useMutation({ mutationFn: (input: Parameters<typeof api.dpo.breaches.update.mutate>[0]) => api.dpo.breaches.update.mutate(input), onSuccess: refresh });
  const notify = useMutation({ mutationFn: (input: { recipient: (typeof RECIPIENTS)[number]; notified_at: string }) =>
    api.dpo.breaches.notify.mutate({ breach_id: Number(b.breach_id), ...input }), onSuccess: refresh });
  const close = useMutation({ mutationFn: (note: string) => api.dpo.breaches.close.mutate({ breach_id: Number(b.breach_id), note }), onSuccess: refresh });
  const [notifiable, setNotifiable] = useState<'yes' | 'no' | 'unknown'>(b.notifiable === null ? 'unknown' : b.notifiable ? 'yes' : 'no');
  const closed = b.status === 'closed';
  const notifiedAt: Record<(typeof RECIPIENTS)[number], string | Date | null> = {
    authority: b.notified_authority_at, individuals: b.notified_individuals_at, hhs: b.notified_hhs_at, media: b.notified_media_at };
  const state: Record<(typeof RECIPIENTS)[number], string> = { authority: b.authority, individuals: b.individuals, hhs: b.hhs, media: b.media };
  const due: Record<(typeof RECIPIENTS)[number], string | Date> = { authority: b.authority_due_at, individuals: b.individuals_due_at, hhs: b.hhs_due_at, media: b.individuals_due_at };
  const submitAssessment = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const reason = String(form.get('reason') ?? '').trim();
    const summary = String(form.get('assessment') ?? '').trim();
    assess.mutate({
      breach_id: Number(b.breach_id),
      risk_factors: String(form.get('factors') ?? '').split('\n').map((f) => f.trim()).filter(Boolean),
      notifiable: notifiable === 'unknown' ? null : notifiable === 'yes',
      ...(notifiable === 'no' && reason ? { not_notifiable_reason: reason } : {}),
      ...(summary ? { risk_assessment: summary } : {}),
      ...(form.get('contained') === 'on' && b.status === 'open' ? { status: 'contained' as const } : {}),
    });
  };
  const submitNotification = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    notify.mutate({ recipient: form.get('recipient') as (typeof RECIPIENTS)[number], notified_at: new Date(String(form.get('notified_at'))).toISOString() });
  };
  const submitClose = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    close.mutate(String(new FormData(event.currentTarget).get('note') ?? '').trim());
  };
  const title = t('breaches.detailTitle', { id: b.breach_id, description: b.description });
  return (
    <article aria-label={title} className="breach">
      <h3>{title}</h3>
      <Facts facts={[
        [t('column.status'), t(`breaches.status.${b.status}`)],
        [t('breaches.discovered'), when(b.discovered_at)],
        [t('breaches.categoriesFact'), b.data_categories.join(', ') || '—'],
        [t('breaches.affected'), b.affected_count],
        [t('breaches.notifiable'), b.notifiable === null ? t('breaches.notAssessed') : b.notifiable ? t('breaches.yes') : t('breaches.noBecause', { reason: b.not_notifiable_reason })],
        [t('breaches.riskFactors'), b.risk_factors.length ? b.risk_factors.join('; ') : '—'],
        ...(b.closed_at ? [[t('breaches.closedAt'), when(b.closed_at)] as [string, string]] : []),
      ]} />
      <table aria-label={t('breaches.notifications', { id: b.breach_id })}>
        <thead><tr><th scope="col">{t('breaches.recipientColumn')}</th><th scope="col">{t('breaches.deadlineColumn')}</th></tr></thead>
        <tbody>
          {RECIPIENTS.map((r) => (
            <tr key={r}><th scope="row">{t(`breaches.recipient.${r}`)}</th>
              <td>{notifiedAt[r] ? t('breaches.notifiedOn', { date: when(notifiedAt[r]) }) : <Deadline state={state[r]} due={due[r]} now={now} />}</td></tr>
          ))}
        </tbody>
      </table>
      {closed ? null : (
        <>
          <form onSubmit={submitAssessment} aria-label={t('breaches.assessTitle', { id: b.breach_id })}>
            <h4>{t('breaches.assessTitle', { id: b.breach_id })}</h4>
            <label>{t('breaches.riskFactorsInput')}<textarea name="factors" rows={3} defaultValue={b.risk_factors.join('\n')} /></label>
            <label>{t('breaches.assessmentSummary')}<textarea name="assessment" rows={2} defaultValue={b.risk_assessment ?? ''} maxLength={4000} /></label>
            <fieldset>
              <legend>{t('breaches.notifiableQuestion')}</legend>
              {(['yes', 'no', 'unknown'] as const).map((value) => (
                <label key={value}><input type="radio" name="notifiable" value={value} checked={notifiable === value} onChange={() => setNotifiable(value)} /> {t(`breaches.notifiableChoice.${value}`)}</label>
              ))}
            </fieldset>
            {notifiable === 'no' ? <label>{t('breaches.whyNot')}<textarea name="reason" required rows={2} maxLength={4000} defaultValue={b.not_notifiable_reason ?? ''} /></label> : null}
            {b.status === 'open' ? <label><input type="checkbox" name="contained" /> {t('breaches.contained')}</label> : null}
            <button type="submit" aria-busy={assess.isPending}>{t('breaches.saveAssessment')}</button>
            {assess.isSuccess ? <p role="status">{t('breaches.assessed')}</p> : null}
            <Problem error={assess.error} explain={{ BRNNR: 'explain.breaches.BRNNR' }} />
          </form>
          <form onSubmit={submitNotification} aria-label={t('breaches.notifyTitle', { id: b.breach_id })}>
            <h4>{t('breaches.notifyTitle', { id: b.breach_id })}</h4>
            <div className="grid">
            <label>{t('breaches.recipientColumn')}<select name="recipient" defaultValue={RECIPIENTS.find((r) => !notifiedAt[r]) ?? 'authority'}>
              {RECIPIENTS.map((r) => <option key={r} value={r}>{t(`breaches.recipient.${r}`)}</option>)}</select></label>
            <label>{t('breaches.notifiedWhen')}<input type="datetime-local" name="notified_at" required defaultValue={localInput(new Date())} /></label>
            </div>
            <button type="submit" className="outline" aria-busy={notify.isPending}>{t('breaches.recordNotification')}</button>
            <Problem error={notify.error} />
          </form>
          <form onSubmit={submitClose} aria-label={t('breaches.closeTitle', { id: b.breach_id })}>
            <h4>{t('breaches.closeTitle', { id: b.breach_id })}</h4>
            <label>{t('breaches.closeNote')}<input name="note" required maxLength={2000} /></label>
            <button type="submit" className="danger" aria-busy={close.isPending}>{t('breaches.close')}</button>
            <Problem error={close.error} />
          </form>
        </>
      )}
    </article>
  );
}
