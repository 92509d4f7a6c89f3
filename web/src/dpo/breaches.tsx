/** The breach register with its deadlines counting down (GDPR Art. 33/34, HIPAA §164.404-408). */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, when } from '../api.js';
import { Loading, Problem } from '../ui.js';

/** the deadlines still running (breach_deadlines: notified, overdue, due_within_24h or pending) */
const OPEN = new Set(['pending', 'due_within_24h', 'overdue']);

function countdown(due: string | Date, now: number): string {
  const ms = new Date(due).getTime() - now;
  const hours = Math.floor(Math.abs(ms) / 3_600_000);
  const minutes = Math.floor((Math.abs(ms) % 3_600_000) / 60_000);
  return ms >= 0 ? `${hours} h ${minutes} min left` : `overdue by ${hours} h ${minutes} min`;
}

export function Breaches() {
  const breaches = useQuery({ queryKey: ['dpo.breaches'], queryFn: () => api.dpo.breaches.list.query() });
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  return (
    <section aria-labelledby="breaches-title">
      <h2 id="breaches-title">Breaches</h2>
      {breaches.isPending ? <Loading what="the breach register" /> : breaches.error ? <Problem error={breaches.error} /> : breaches.data!.length === 0 ? <p>No breach is registered.</p> : (
        <table aria-label="Breach register">
          <thead><tr><th scope="col">#</th><th scope="col">Discovered</th><th scope="col">Status</th><th scope="col">Affected</th>
            <th scope="col">Authority (72 h)</th><th scope="col">Individuals</th></tr></thead>
          <tbody>
            {breaches.data!.map((b) => (
              <tr key={b.breach_id}>
                <td>{b.breach_id}</td><td>{when(b.discovered_at)}</td><td>{b.status}</td><td>{b.affected_count}</td>
                <td>{b.authority.replace(/_/g, ' ')}{OPEN.has(b.authority) ? <>: <mark>{countdown(b.authority_due_at, now)}</mark></> : null}</td>
                <td>{b.individuals.replace(/_/g, ' ')}{OPEN.has(b.individuals) ? <>: {countdown(b.individuals_due_at, now)}</> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
