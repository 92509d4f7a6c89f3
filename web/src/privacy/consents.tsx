/** Consents (GDPR Art. 7): a switch per purpose with its description and policy version; the history beside it. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, when } from '../api.js';
import { Loading, Problem } from '../ui.js';

export function Consents() {
  const client = useQueryClient();
  const purposes = useQuery({ queryKey: ['me.consent.purposes'], queryFn: () => api.me.consent.purposes.query() });
  const current = useQuery({ queryKey: ['me.consent.list'], queryFn: () => api.me.consent.list.query() });
  const history = useQuery({ queryKey: ['me.consent.history'], queryFn: () => api.me.consent.history.query() });
  const decide = useMutation({
    mutationFn: (input: { consent_type: string; granted: boolean; policy_version: string }) => api.me.consent.set.mutate(input),
    onSuccess: () => Promise.all(['me.consent.list', 'me.consent.history'].map((key) => client.invalidateQueries({ queryKey: [key] }))),
  });
  if (purposes.isPending || current.isPending) return <Loading what="your consents" />;
  const failure = purposes.error ?? current.error;
  if (failure) return <Problem error={failure} />;
  const granted = new Map(current.data!.consents.map((c) => [c.purpose, c]));
  return (
    <section aria-labelledby="consents-title">
      <h2 id="consents-title">Consents</h2>
      <div className="grid">
        <fieldset>
          <legend>What you allow</legend>
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
                  {p.description}. {p.legal_basis}; policy version {p.policy_version}.
                  {decision ? ` ${decision.granted ? 'Granted' : 'Withdrawn'} ${when(decision.recorded_at)} under version ${decision.policy_version}.` : ' Never asked: not granted.'}
                </small>
              </div>
            );
          })}
          <Problem error={decide.error} />
        </fieldset>
        <div>
          <h3>History</h3>
          {history.isPending ? <Loading what="the history" /> : history.error ? <Problem error={history.error} /> : history.data!.records.length === 0 ? <p>No decision yet.</p> : (
            <table aria-label="Consent history">
              <thead><tr><th scope="col">When</th><th scope="col">Purpose</th><th scope="col">Decision</th><th scope="col">Version</th></tr></thead>
              <tbody>
                {history.data!.records.map((r) => (
                  <tr key={r.id}><td>{when(r.recorded_at)}</td><td>{r.purpose}</td><td>{r.granted ? 'granted' : 'withdrawn'}</td><td>{r.policy_version}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
    </section>
  );
}
