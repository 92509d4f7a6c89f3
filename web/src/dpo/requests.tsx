/** The request register: open requests with days left, overdue ones marked; register and complete. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { api, when } from '../api.js';
import { Loading, Problem } from '../ui.js';

const KINDS = ['access', 'rectification', 'erasure', 'portability', 'restriction', 'objection'] as const;

export function Requests() {
  const client = useQueryClient();
  const requests = useQuery({ queryKey: ['dpo.openRequests'], queryFn: () => api.dpo.openRequests.query() });
  const refresh = () => client.invalidateQueries({ queryKey: ['dpo.openRequests'] });
  const register = useMutation({ mutationFn: (input: { user_id: string; kind: (typeof KINDS)[number]; notes?: string }) => api.dpo.registerRequest.mutate(input), onSuccess: refresh });
  const complete = useMutation({ mutationFn: (id: number) => api.dpo.completeRequest.mutate({ id }), onSuccess: refresh });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const notes = String(form.get('notes') ?? '').trim();
    register.mutate({ user_id: String(form.get('user_id')).trim(), kind: form.get('kind') as (typeof KINDS)[number], ...(notes ? { notes } : {}) },
      { onSuccess: () => (event.target as HTMLFormElement).reset() });
  };
  return (
    <section aria-labelledby="requests-title">
      <h2 id="requests-title">Requests</h2>
      {requests.isPending ? <Loading what="the open requests" /> : requests.error ? <Problem error={requests.error} /> : requests.data!.length === 0 ? <p>No request is open.</p> : (
        <table aria-label="Open data subject requests">
          <thead><tr><th scope="col">#</th><th scope="col">Subject</th><th scope="col">Kind</th><th scope="col">Received</th><th scope="col">Due</th><th scope="col">Days left</th><th scope="col"><span className="visually-hidden">Action</span></th></tr></thead>
          <tbody>
            {requests.data!.map((r) => (
              <tr key={r.id} className={r.overdue ? 'overdue' : undefined}>
                <td>{r.id}</td><td>{r.user_id ?? '(erased)'}</td><td>{r.kind}</td><td>{when(r.received_at)}</td><td>{when(r.due_at)}</td>
                <td>{r.overdue ? <mark>Overdue by {Math.abs(Math.floor(r.days_left))} days</mark> : Math.floor(r.days_left)}</td>
                <td><button type="button" className="outline" onClick={() => complete.mutate(Number(r.id))} aria-busy={complete.isPending && complete.variables === Number(r.id)}>
                  Complete request {r.id}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Problem error={complete.error} />
      <h3>Register a request</h3>
      <form onSubmit={submit}>
        <div className="grid">
          <label>Subject's user id<input name="user_id" required /></label>
          <label>Kind<select name="kind" required defaultValue="access">{KINDS.map((k) => <option key={k} value={k}>{k}</option>)}</select></label>
          <label>Notes<input name="notes" /></label>
        </div>
        <button type="submit" aria-busy={register.isPending}>Register request</button>
        {register.data ? <p role="status">Registered request {register.data.id}, due {when(register.data.due_at)}.</p> : null}
        <Problem error={register.error} explain={{ UNKSJ: 'No subject has that user id: check it, or find them under Subjects.' }} />
      </form>
    </section>
  );
}
