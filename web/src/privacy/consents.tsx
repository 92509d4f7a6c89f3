/** Consents (GDPR Art. 7): a switch per purpose with its description and policy version; the history beside it. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, when } from '../api.js';
import { Loading, SubjectProblem } from '../ui.js';

export function Consents() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const purposes = useQuery({ queryKey: ['me.consent.purposes'], queryFn: () => api.me.consent.purposes.query() });
  const current = useQuery({ queryKey: ['me.consent.list'], queryFn: () => api.me.consent.list.query() });
  const history = useQuery({ queryKey: ['me.consent.history'], queryFn: () => api.me.consent.history.query() });
  const decide = useMutation({
    mutationFn: (input: { consent_type: string; granted: boolean; policy_version: string }) => api.me.consent.set.mutate(input),
    onSuccess: () => Promise.all(['me.consent.list', 'me.consent.history'].map((key) => client.invalidateQueries({ queryKey: [key] }))),
  });
  if (purposes.isPending || current.isPending) return <Loading what={t('privacy.what.consents')} />;
  const failure = purposes.error ?? current.error;
  if (failure) return <SubjectProblem error={failure} />;
  const granted = new Map(current.data!.consents.map((c) => [c.purpose, c]));
  return (
    <section aria-labelledby="consents-title">
      <h2 id="consents-title">{t('consents.title')}</h2>
      <div className="grid">
        <fieldset>
          <legend>{t('consents.legend')}</legend>
          {purposes.data!.purposes.map((p) => {
            const decision = granted.get(p.purpose);
            // the decision being recorded shows at once; the stored one replaces it when it comes back
            const deciding = decide.isPending && decide.variables?.consent_type === p.purpose;
            return (
              <div key={p.purpose} className="consent">
                <label>
                  <input type="checkbox" role="switch" checked={deciding ? decide.variables!.granted : decision?.granted ?? false} disabled={decide.isPending}
                    aria-describedby={`purpose-${p.purpose}`}
                    onChange={(event) => decide.mutate({ consent_type: p.purpose, granted: event.currentTarget.checked, policy_version: p.policy_version })} />
                  {' '}{p.purpose.replace(/_/g, ' ')}
                </label>
                <small id={`purpose-${p.purpose}`}>
                  {t('consents.purpose', { description: p.description, basis: p.legal_basis, version: p.policy_version })}{' '}
                  {decision
                    ? t(decision.granted ? 'consents.grantedAt' : 'consents.withdrawnAt', { at: when(decision.recorded_at), version: decision.policy_version })
                    : t('consents.neverAsked')}
                </small>
              </div>
            );
          })}
          <SubjectProblem error={decide.error} />
        </fieldset>
        <div>
          <h3>{t('consents.history')}</h3>
          {history.isPending ? <Loading what={t('privacy.what.history')} /> : history.error ? <SubjectProblem error={history.error} /> : history.data!.records.length === 0 ? <p>{t('consents.noDecision')}</p> : (
            <table aria-label={t('consents.history')}>
              <thead><tr><th scope="col">{t('column.when')}</th><th scope="col">{t('column.purpose')}</th><th scope="col">{t('column.decision')}</th><th scope="col">{t('column.version')}</th></tr></thead>
              <tbody>
                {history.data!.records.map((r) => (
                  <tr key={r.id}><td>{when(r.recorded_at)}</td><td>{r.purpose}</td><td>{t(r.granted ? 'consents.granted' : 'consents.withdrawn')}</td><td>{r.policy_version}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
    </section>
  );
}
