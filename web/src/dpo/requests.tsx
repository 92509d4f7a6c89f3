/** The request register: open requests with days left, overdue ones marked; register, and complete or reject with a note. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, when } from '../api.js';
import { Loading, NotedAction, Problem } from '../ui.js';

const KINDS = ['access', 'rectification', 'erasure', 'portability', 'restriction', 'objection'] as const;

export function Requests() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const requests = useQuery({ queryKey: ['dpo.openRequests'], queryFn: () => api.dpo.openRequests.query() });
  const refresh = () => client.invalidateQueries({ queryKey: ['dpo.openRequests'] });
  const register = useMutation({ mutationFn: (input: { user_id: string; kind: (typeof KINDS)[number]; notes?: string }) => api.dpo.registerRequest.mutate(input), onSuccess: refresh });
  const complete = useMutation({ mutationFn: (input: { id: number; status: 'completed' | 'rejected'; notes: string }) => api.dpo.completeRequest.mutate(input), onSuccess: refresh });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const notes = String(form.get('notes') ?? '').trim();
    register.mutate({ user_id: String(form.get('user_id')).trim(), kind: form.get('kind') as (typeof KINDS)[number], ...(notes ? { notes } : {}) },
      { onSuccess: () => (event.target as HTMLFormElement).reset() });
  };
  return (
    <section aria-labelledby="requests-title">
      <h2 id="requests-title">{t('requests.title')}</h2>
      {requests.isPending ? <Loading what={t('requests.what')} /> : requests.error ? <Problem error={requests.error} /> : requests.data!.length === 0 ? <p>{t('requests.none')}</p> : (
        <table aria-label={t('requests.table')}>
          <thead><tr><th scope="col">#</th><th scope="col">{t('column.subject')}</th><th scope="col">{t('column.kind')}</th><th scope="col">{t('column.received')}</th>
            <th scope="col">{t('column.due')}</th><th scope="col">{t('column.daysLeft')}</th><th scope="col"><span className="visually-hidden">{t('column.action')}</span></th></tr></thead>
          <tbody>
            {requests.data!.map((r) => {
              const describe = t('requests.describe', { id: r.id, kind: t(`requestKind.${r.kind}`), subject: r.user_id ?? t('requests.erased') });
              return (
                <tr key={r.id} className={r.overdue ? 'overdue' : undefined}>
                  <td>{r.id}</td><td>{r.user_id ?? t('requests.erased')}</td><td>{t(`requestKind.${r.kind}`)}</td><td>{when(r.received_at)}</td><td>{when(r.due_at)}</td>
                  <td>{r.overdue ? <mark>{t('requests.overdueBy', { count: Math.abs(Math.floor(r.days_left)) })}</mark> : Math.floor(r.days_left)}</td>
                  <td><div className="actions">
                    <NotedAction label={t('requests.complete')} describe={describe} noteLabel={t('requests.completeNote')} confirmLabel={t('requests.confirmComplete')}
                      busy={complete.isPending} onConfirm={(notes) => complete.mutate({ id: Number(r.id), status: 'completed', notes })} className="outline" />
                    <NotedAction label={t('requests.reject')} describe={describe} noteLabel={t('requests.rejectNote')} confirmLabel={t('requests.confirmReject')}
                      busy={complete.isPending} onConfirm={(notes) => complete.mutate({ id: Number(r.id), status: 'rejected', notes })} className="secondary outline" />
                  </div></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {complete.data ? <p role="status">{t(complete.data.status === 'rejected' ? 'requests.rejected' : 'requests.completed', { id: complete.data.id })}</p> : null}
      <Problem error={complete.error} />
      <h3>{t('requests.register')}</h3>
      <form onSubmit={submit}>
        <div className="grid">
          <label>{t('requests.userId')}<input name="user_id" required /></label>
          <label>{t('column.kind')}<select name="kind" required defaultValue="access">{KINDS.map((k) => <option key={k} value={k}>{t(`requestKind.${k}`)}</option>)}</select></label>
          <label>{t('requests.notes')}<input name="notes" /></label>
        </div>
        <button type="submit" aria-busy={register.isPending}>{t('requests.registerButton')}</button>
        {register.data ? <p role="status">{t('requests.registered', { id: register.data.id, due: when(register.data.due_at) })}</p> : null}
        <Problem error={register.error} explain={{ UNKSJ: 'explain.requests.UNKSJ' }} />
      </form>
    </section>
  );
}
