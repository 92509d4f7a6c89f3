/**
 * The record of processing (GDPR Art. 30) for the DPO: what it lacks, its activities and systems,
 * forms to record them, the record to hand over as HTML or CSV, and the requests other systems
 * have not confirmed yet, to confirm by hand or send again.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, download, when } from '../api.js';
import { Loading, NotedAction, Problem } from '../ui.js';

type Json = Record<string, any>;
const lines = (text: FormDataEntryValue | null) => String(text ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
const fields = (line: string) => line.split(';').map((f) => f.trim());

export function Processing() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const record = useQuery({ queryKey: ['dpo.processing.record'], queryFn: () => api.dpo.processing.record.query({ format: 'json' }) as Promise<Json> });
  const tasks = useQuery({ queryKey: ['dpo.processing.tasks'], queryFn: () => api.dpo.processing.tasks.query({ state: 'open' }) });
  const refresh = () => Promise.all([['dpo.processing.record'], ['dpo.processing.tasks']].map((queryKey) => client.invalidateQueries({ queryKey })));
  const saveActivity = useMutation({ mutationFn: (input: Parameters<typeof api.dpo.processing.recordActivity.mutate>[0]) => api.dpo.processing.recordActivity.mutate(input), onSuccess: refresh });
  const saveSystem = useMutation({ mutationFn: (input: Parameters<typeof api.dpo.processing.recordSystem.mutate>[0]) => api.dpo.processing.recordSystem.mutate(input), onSuccess: refresh });
  const confirm = useMutation({ mutationFn: (input: { task_id: number; note: string }) => api.dpo.processing.confirmTask.mutate(input), onSuccess: refresh });
  const retry = useMutation({ mutationFn: (taskId: number) => api.dpo.processing.retryTask.mutate({ task_id: taskId }), onSuccess: refresh });
  const fetchAs = async (format: 'csv' | 'html') => {
    const file = await api.dpo.processing.record.query({ format }) as { filename: string; content: string };
    download(file.filename, file.content, format === 'csv' ? 'text/csv' : 'text/html');
  };
  const submitActivity = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    saveActivity.mutate({
      activity: String(form.get('activity')).trim(), name: String(form.get('name')).trim(), description: String(form.get('description') ?? '').trim(),
      purposes: lines(form.get('purposes')).map(fields).map(([purpose, basis, consent]) => ({ purpose: purpose!, legal_basis: (basis || null) as never,
        consent_purpose: consent || null, direct_marketing: /marketing/i.test(purpose!) })),
      tables: String(form.get('tables') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      recipients: lines(form.get('recipients')).map(fields).map(([system, safeguard]) => ({ system: system!, transfer_safeguard: (safeguard || null) as never })),
      retention: String(form.get('retention') ?? '').trim() || null,
    });
  };
  const submitSystem = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const endpoint = String(form.get('endpoint_url') ?? '').trim();
    saveSystem.mutate({ system: String(form.get('system')).trim(), name: String(form.get('name')).trim(), kind: form.get('kind') as never,
      country: String(form.get('country')).trim(), dpa_reference: String(form.get('dpa_reference') ?? '').trim() || null,
      connector: form.get('connector') as never, endpoint_url: endpoint || null });
  };
  if (record.isPending) return <Loading what={t('processingRecord.what')} />;
  if (record.error) return <Problem error={record.error} />;
  const data = record.data!;
  return (
    <section aria-labelledby="record-title">
      <h2 id="record-title">{t('processingRecord.title')}</h2>
      <div role="group">
        <button type="button" onClick={() => fetchAs('html')}>{t('processingRecord.html')}</button>
        <button type="button" className="secondary" onClick={() => fetchAs('csv')}>{t('processingRecord.csv')}</button>
      </div>
      {data.gaps.length === 0 ? <p role="status">{t('processingRecord.complete')}</p> : (
        <><h3>{t('processingRecord.gaps', { count: data.gaps.length })}</h3><ul>{data.gaps.map((g: Json) => <li key={`${g.gap}:${g.subject}`}>{g.detail}</li>)}</ul></>
      )}
      <table aria-label={t('processingRecord.activities')}>
        <thead><tr><th scope="col">{t('processingRecord.activity')}</th><th scope="col">{t('processingRecord.purposes')}</th><th scope="col">{t('processingRecord.recipients')}</th></tr></thead>
        <tbody>{data.activities.map((a: Json) => (
          <tr key={a.activity}><td>{a.name} <small>({a.activity})</small></td>
            <td>{a.purposes.map((p: Json) => `${p.purpose}: ${p.legal_basis ?? '—'}`).join('; ')}</td>
            <td>{a.recipients.map((r: Json) => `${r.name} (${r.country}${r.third_country ? `, ${r.transfer_safeguard ?? '—'}` : ''})`).join('; ')}</td></tr>
        ))}</tbody>
      </table>
      <h3>{t('processingRecord.openTasks')}</h3>
      {tasks.isPending ? <Loading what={t('processingRecord.tasksWhat')} /> : tasks.error ? <Problem error={tasks.error} /> : tasks.data!.length === 0 ? <p>{t('processingRecord.noTasks')}</p> : (
        <table aria-label={t('processingRecord.openTasks')}>
          <thead><tr><th scope="col">#</th><th scope="col">{t('processingRecord.system')}</th><th scope="col">{t('column.kind')}</th><th scope="col">{t('processingRecord.state')}</th>
            <th scope="col">{t('column.due')}</th><th scope="col"><span className="visually-hidden">{t('column.action')}</span></th></tr></thead>
          <tbody>{tasks.data!.map((task) => {
            const describe = t('processingRecord.describeTask', { id: task.id, kind: task.kind, system: task.system });
            return (
              <tr key={task.id} className={new Date(task.due_at).getTime() < Date.now() ? 'overdue' : undefined}>
                <td>{task.id}</td><td>{task.system}</td><td>{task.kind}</td><td>{t(`processingRecord.taskState.${task.state}`)}{task.last_error ? <small> ({task.last_error})</small> : null}</td>
                <td>{when(task.due_at)}</td>
                <td><div className="actions">
                  <NotedAction label={t('processingRecord.confirm')} describe={describe} noteLabel={t('processingRecord.confirmNote')} confirmLabel={t('processingRecord.confirm')}
                    busy={confirm.isPending} onConfirm={(note) => confirm.mutate({ task_id: Number(task.id), note })} className="outline" />
                  {task.state === 'failed' ? <button type="button" className="secondary outline" onClick={() => retry.mutate(Number(task.id))}>{t('processingRecord.retry')}</button> : null}
                </div></td>
              </tr>
            );
          })}</tbody>
        </table>
      )}
      <Problem error={confirm.error ?? retry.error} />
      <h3>{t('processingRecord.recordActivity')}</h3>
      <form onSubmit={submitActivity}>
        <div className="grid">
          <label>{t('processingRecord.key')}<input name="activity" required pattern="[a-z][a-z0-9_]{0,62}" /></label>
          <label>{t('processingRecord.name')}<input name="name" required maxLength={200} /></label>
        </div>
        <label>{t('processingRecord.description')}<input name="description" maxLength={4000} /></label>
        <label>{t('processingRecord.purposesField')}<textarea name="purposes" required rows={2} placeholder="Newsletter; consent; marketing" /></label>
        <label>{t('processingRecord.tablesField')}<input name="tables" placeholder="compliance.user_profiles, public.orders" /></label>
        <label>{t('processingRecord.recipientsField')}<textarea name="recipients" rows={2} placeholder="mailer; standard_contractual_clauses" /></label>
        <label>{t('processingRecord.retention')}<input name="retention" maxLength={1000} /></label>
        <button type="submit" aria-busy={saveActivity.isPending}>{t('processingRecord.saveActivity')}</button>
        {saveActivity.data ? <p role="status">{t('processingRecord.saved', { key: saveActivity.data.activity })}</p> : null}
        <Problem error={saveActivity.error} />
      </form>
      <h3>{t('processingRecord.recordSystem')}</h3>
      <form onSubmit={submitSystem}>
        <div className="grid">
          <label>{t('processingRecord.key')}<input name="system" required pattern="[a-z][a-z0-9_]{0,62}" /></label>
          <label>{t('processingRecord.name')}<input name="name" required maxLength={200} /></label>
          <label>{t('processingRecord.country')}<input name="country" required pattern="[A-Za-z]{2}" /></label>
        </div>
        <div className="grid">
          <label>{t('column.kind')}<select name="kind" defaultValue="processor">{['identity_provider', 'authorization_store', 'processor', 'analytics', 'other'].map((k) => <option key={k} value={k}>{k.replace(/_/g, ' ')}</option>)}</select></label>
          <label>{t('processingRecord.connector')}<select name="connector" defaultValue="manual">{['manual', 'webhook', 'scim', 'none'].map((k) => <option key={k} value={k}>{k}</option>)}</select></label>
          <label>{t('processingRecord.endpoint')}<input name="endpoint_url" type="url" /></label>
          <label>{t('processingRecord.dpa')}<input name="dpa_reference" maxLength={500} /></label>
        </div>
        <button type="submit" aria-busy={saveSystem.isPending}>{t('processingRecord.saveSystem')}</button>
        {saveSystem.data ? <p role="status">{t('processingRecord.saved', { key: saveSystem.data.system })}</p> : null}
        <Problem error={saveSystem.error} />
      </form>
    </section>
  );
}
