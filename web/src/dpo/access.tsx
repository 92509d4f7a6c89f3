/** Access (approvers): pending workforce access requests, and emergency (break-glass) access awaiting review, each decision with a note. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, when } from '../api.js';
import { Loading, NotedAction, Problem } from '../ui.js';

export function Access() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const refresh = () => Promise.all(['approver.pending', 'approver.reviews'].map((key) => client.invalidateQueries({ queryKey: [key] })));
  const pending = useQuery({ queryKey: ['approver.pending'], queryFn: () => api.approver.pendingRequests.query() });
  const reviews = useQuery({ queryKey: ['approver.reviews'], queryFn: () => api.approver.reviewQueue.query() });
  const approve = useMutation({ mutationFn: (id: string) => api.approver.approve.mutate({ grant_id: Number(id) }), onSuccess: refresh });
  const deny = useMutation({ mutationFn: (input: { id: string; note: string }) => api.approver.deny.mutate({ grant_id: Number(input.id), note: input.note }), onSuccess: refresh });
  const review = useMutation({ mutationFn: (input: { grant_id: string; outcome: 'appropriate' | 'inappropriate'; note: string }) =>
    api.approver.review.mutate({ ...input, grant_id: Number(input.grant_id) }), onSuccess: refresh });
  return (
    <section aria-labelledby="access-title">
      <h2 id="access-title">{t('access.title')}</h2>
      <h3>{t('access.pending')}</h3>
      {pending.isPending ? <Loading what={t('access.what.pending')} /> : pending.error ? <Problem error={pending.error} /> : pending.data!.length === 0 ? <p>{t('access.noPending')}</p> : (
        <table aria-label={t('access.pending')}>
          <thead><tr><th scope="col">{t('column.requested')}</th><th scope="col">{t('column.by')}</th><th scope="col">{t('column.patient')}</th><th scope="col">{t('column.scope')}</th>
            <th scope="col">{t('column.reason')}</th><th scope="col"><span className="visually-hidden">{t('column.decision')}</span></th></tr></thead>
          <tbody>
            {pending.data!.map((g) => {
              const describe = t('access.describeRequest', { grantee: g.grantee ?? '—', patient: g.user_id });
              return (
                <tr key={g.id}><td>{when(g.requested_at)}</td><td>{g.grantee ?? '—'}</td><td>{g.user_id}</td>
                  <td>{t('access.scope', { scope: t(`scope.${g.scope}`), purpose: t(`purposeOfUse.${g.purpose}`) })}</td><td>{g.reason}</td>
                  <td><div className="actions">
                    <button type="button" aria-describedby={`grant-${g.id}`} onClick={() => approve.mutate(g.id)} aria-busy={approve.isPending && approve.variables === g.id}>{t('access.approve')}</button>
                    <span id={`grant-${g.id}`} className="visually-hidden">{describe}</span>
                    <NotedAction label={t('access.deny')} describe={describe} noteLabel={t('access.denyNote')} confirmLabel={t('access.confirmDeny')}
                      busy={deny.isPending} onConfirm={(note) => deny.mutate({ id: g.id, note })} className="secondary" />
                  </div></td></tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Problem error={approve.error ?? deny.error} explain={{ GRSLF: 'explain.access.GRSLF' }} />
      <h3>{t('access.reviews')}</h3>
      {reviews.isPending ? <Loading what={t('access.what.reviews')} /> : reviews.error ? <Problem error={reviews.error} /> : reviews.data!.reviews.length === 0 ? <p>{t('access.noReviews')}</p> : (
        <table aria-label={t('access.reviews')}>
          <thead><tr><th scope="col">{t('column.started')}</th><th scope="col">{t('column.who')}</th><th scope="col">{t('column.patient')}</th><th scope="col">{t('column.reason')}</th>
            <th scope="col">{t('column.reviewDue')}</th><th scope="col"><span className="visually-hidden">{t('column.review')}</span></th></tr></thead>
          <tbody>
            {reviews.data!.reviews.map((g) => {
              const patient = g.patient ?? t('access.erasedPatient');
              const describe = t('access.describeEmergency', { grantee: g.grantee ?? '—', patient });
              return (
                <tr key={g.grant_id} className={g.overdue ? 'overdue' : undefined}><td>{when(g.starts_at)}</td><td>{g.grantee ?? '—'}</td><td>{patient}</td><td>{g.reason}</td>
                  <td>{when(g.review_due_at)}{g.overdue ? <> <mark>{t('access.overdue')}</mark></> : null}</td>
                  <td><div className="actions">
                    <NotedAction label={t('access.appropriate')} describe={describe} noteLabel={t('access.reviewNote')} confirmLabel={t('access.confirmAppropriate')}
                      busy={review.isPending} onConfirm={(note) => review.mutate({ grant_id: g.grant_id, outcome: 'appropriate', note })} />
                    <NotedAction label={t('access.inappropriate')} describe={describe} noteLabel={t('access.reviewNote')} confirmLabel={t('access.confirmInappropriate')}
                      busy={review.isPending} onConfirm={(note) => review.mutate({ grant_id: g.grant_id, outcome: 'inappropriate', note })} className="secondary" />
                  </div></td></tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Problem error={review.error} explain={{ GRSLF: 'explain.access.GRSLFReview' }} />
    </section>
  );
}
