/** Access (approvers): pending workforce access requests, and emergency (break-glass) access awaiting review. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, when } from '../api.js';
import { Loading, Problem } from '../ui.js';

export function Access() {
  const client = useQueryClient();
  const refresh = () => Promise.all(['approver.pending', 'approver.reviews'].map((key) => client.invalidateQueries({ queryKey: [key] })));
  const pending = useQuery({ queryKey: ['approver.pending'], queryFn: () => api.approver.pendingRequests.query() });
  const reviews = useQuery({ queryKey: ['approver.reviews'], queryFn: () => api.approver.reviewQueue.query() });
  const approve = useMutation({ mutationFn: (id: string) => api.approver.approve.mutate({ grant_id: id }), onSuccess: refresh });
  const deny = useMutation({ mutationFn: (id: string) => api.approver.deny.mutate({ grant_id: id }), onSuccess: refresh });
  const review = useMutation({ mutationFn: (input: { grant_id: string; outcome: 'appropriate' | 'inappropriate' }) => api.approver.review.mutate(input), onSuccess: refresh });
  return (
    <section aria-labelledby="access-title">
      <h2 id="access-title">Access</h2>
      <h3>Pending access requests</h3>
      {pending.isPending ? <Loading what="pending requests" /> : pending.error ? <Problem error={pending.error} /> : pending.data!.length === 0 ? <p>No request is pending.</p> : (
        <table aria-label="Pending access requests">
          <thead><tr><th scope="col">Requested</th><th scope="col">By</th><th scope="col">Patient</th><th scope="col">Scope</th><th scope="col">Reason</th><th scope="col"><span className="visually-hidden">Decision</span></th></tr></thead>
          <tbody>
            {pending.data!.map((g) => (
              <tr key={g.id}><td>{when(g.requested_at)}</td><td>{g.grantee ?? '—'}</td><td>{g.user_id}</td><td>{g.scope} for {g.purpose}</td><td>{g.reason}</td>
                <td><div role="group"><button type="button" onClick={() => approve.mutate(g.id)}>Approve request {g.id}</button>
                  <button type="button" className="secondary" onClick={() => deny.mutate(g.id)}>Deny request {g.id}</button></div></td></tr>
            ))}
          </tbody>
        </table>
      )}
      <Problem error={approve.error ?? deny.error} explain={{ GRSLF: 'You cannot decide your own request: another approver does.' }} />
      <h3>Emergency access to review</h3>
      {reviews.isPending ? <Loading what="the review queue" /> : reviews.error ? <Problem error={reviews.error} /> : reviews.data!.reviews.length === 0 ? <p>No emergency access awaits review.</p> : (
        <table aria-label="Emergency access awaiting review">
          <thead><tr><th scope="col">Started</th><th scope="col">Who</th><th scope="col">Patient</th><th scope="col">Reason</th><th scope="col">Review due</th><th scope="col"><span className="visually-hidden">Review</span></th></tr></thead>
          <tbody>
            {reviews.data!.reviews.map((g) => (
              <tr key={g.grant_id} className={g.overdue ? 'overdue' : undefined}><td>{when(g.starts_at)}</td><td>{g.grantee ?? '—'}</td><td>{g.patient}</td><td>{g.reason}</td>
                <td>{when(g.review_due_at)}{g.overdue ? <> <mark>overdue</mark></> : null}</td>
                <td><div role="group">
                  <button type="button" onClick={() => review.mutate({ grant_id: g.grant_id, outcome: 'appropriate' })}>Appropriate ({g.grant_id})</button>
                  <button type="button" className="secondary" onClick={() => review.mutate({ grant_id: g.grant_id, outcome: 'inappropriate' })}>Inappropriate ({g.grant_id})</button>
                </div></td></tr>
            ))}
          </tbody>
        </table>
      )}
      <Problem error={review.error} explain={{ GRSLF: 'You cannot review your own emergency access: another approver does.' }} />
    </section>
  );
}
