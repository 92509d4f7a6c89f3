/**
 * How your data is used (GDPR Art. 13, 21): each activity that uses it, why, on what legal basis,
 * and whether it may use it now. Where the law lets the person object, a button does it; an
 * objection to direct marketing stops it at once, another one when the data protection officer decides.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { Loading, SubjectProblem } from '../ui.js';

export function HowWeUseYourData() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const processing = useQuery({ queryKey: ['me.processing'], queryFn: () => api.me.processing.list.query() });
  const refresh = () => client.invalidateQueries({ queryKey: ['me.processing'] });
  const object = useMutation({ mutationFn: (activity: string) => api.me.processing.object.mutate({ activity }), onSuccess: refresh });
  const withdraw = useMutation({ mutationFn: (limitId: string) => api.me.processing.withdrawObjection.mutate({ limit_id: Number(limitId) }), onSuccess: refresh });
  if (processing.isPending) return <Loading what={t('privacy.what.processing')} />;
  if (processing.error) return <SubjectProblem error={processing.error} />;
  const { activities, restricted } = processing.data!;
  const busy = object.isPending || withdraw.isPending;
  return (
    <section aria-labelledby="processing-title">
      <h2 id="processing-title">{t('processing.title')}</h2>
      <p>{t('processing.intro')}</p>
      {restricted && <p role="status" className="notice">{t('processing.restricted')}</p>}
      {activities.length === 0 ? <p>{t('processing.none')}</p> : (
        <ul className="activities" aria-label={t('processing.title')}>
          {activities.map((activity) => (
            <li key={activity.activity}>
              <h3>{activity.name}</h3>
              {activity.description && <p>{activity.description}</p>}
              <ul>
                {activity.purposes.map((p) => (
                  <li key={p.purpose}>{t('processing.purpose', { purpose: p.purpose, basis: t(`processing.basis.${p.legal_basis ?? 'none'}`) })}
                    {p.direct_marketing ? ` ${t('processing.marketing')}` : ''}</li>
                ))}
              </ul>
              <p><strong>{t(activity.permitted ? 'processing.inUse' : 'processing.paused')}</strong></p>
              {activity.objection === 'available' && (
                <button type="button" className="secondary" disabled={busy} aria-busy={object.isPending && object.variables === activity.activity}
                  onClick={() => object.mutate(activity.activity)}>{t('processing.object', { name: activity.name })}</button>
              )}
              {activity.objection === 'pending' && <p role="status">{t('processing.pending')}</p>}
              {activity.objection === 'in_effect' && (
                <p>{t('processing.objected')}{' '}
                  <button type="button" className="secondary" disabled={busy} onClick={() => withdraw.mutate(activity.objection_limit_id!)}>
                    {t('processing.withdraw')}</button></p>
              )}
              {activity.objection === 'not_applicable' && <p><small>{t('processing.noObjection')}</small></p>}
            </li>
          ))}
        </ul>
      )}
      <SubjectProblem error={object.error ?? withdraw.error} />
    </section>
  );
}
