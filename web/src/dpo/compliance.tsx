/**
 * Compliance (DPO and auditors): the latest result of each check with its history, the audit
 * chain's status and newest seal (what an anchor signs), the monthly reports, and (auditors)
 * the evidence package.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { api, download, when } from '../api.js';
import { json, Loading, Problem } from '../ui.js';

const MARK = { pass: '✓', fail: '✗', not_applicable: '–' } as const;

export function Compliance({ isDpo, isAuditor }: { isDpo: boolean; isAuditor: boolean }) {
  return (
    <section aria-labelledby="compliance-title">
      <h2 id="compliance-title">Compliance</h2>
      <Checks canRun={isDpo} />
      <AuditChain />
      <Reports />
      {isAuditor ? <Evidence /> : null}
    </section>
  );
}

function Checks({ canRun }: { canRun: boolean }) {
  const client = useQueryClient();
  const history = useQuery({ queryKey: ['checks.history'], queryFn: () => api.checks.history.query({ runs: 14 }) });
  const run = useMutation({ mutationFn: () => api.dpo.operations.runChecks.mutate({}), onSuccess: () => client.invalidateQueries({ queryKey: ['checks.history'] }) });
  const byCheck = new Map<string, NonNullable<typeof history.data>>();
  for (const row of history.data ?? []) byCheck.set(row.check_name, [...(byCheck.get(row.check_name) ?? []), row]);
  return (
    <>
      <h3>Checks</h3>
      {canRun ? <button type="button" className="outline" onClick={() => run.mutate()} aria-busy={run.isPending}>Run every check now</button> : null}
      <Problem error={run.error} />
      {history.isPending ? <Loading what="the check results" /> : history.error ? <Problem error={history.error} /> : byCheck.size === 0 ? <p>No check has run yet.</p> : (
        <table aria-label="Latest result of each compliance check">
          <thead><tr><th scope="col">Check</th><th scope="col">Latest</th><th scope="col">When</th><th scope="col">Detail</th><th scope="col">History (newest first)</th></tr></thead>
          <tbody>
            {[...byCheck].map(([name, rows]) => (
              <tr key={name} className={rows[0]!.status === 'fail' ? 'overdue' : undefined}>
                <th scope="row">{name.replace(/_/g, ' ')}</th><td>{rows[0]!.status.replace('_', ' ')}</td><td>{when(rows[0]!.started_at)}</td><td>{rows[0]!.detail}</td>
                <td aria-label={rows.map((r) => r.status.replace('_', ' ')).join(', ')}><span aria-hidden="true">{rows.map((r) => MARK[r.status]).join(' ')}</span></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function AuditChain() {
  const anchor = useQuery({ queryKey: ['evidence.anchorState'], queryFn: () => api.evidence.anchorState.query({}) });
  const last = useQuery({ queryKey: ['evidence.lastAnchor'], queryFn: () => api.evidence.lastAnchor.query() });
  const history = useQuery({ queryKey: ['checks.history'], queryFn: () => api.checks.history.query({ runs: 14 }) });
  const latest = history.data?.find((r) => r.check_name === 'audit_chain');
  return (
    <>
      <h3>Audit chain</h3>
      <p>{latest ? <>Last verified {when(latest.started_at)}: <strong>{latest.status}</strong>, {latest.detail}.</> : 'Not verified by a check run yet.'}</p>
      {anchor.isPending ? <Loading what="the newest seal" /> : anchor.error ? <Problem error={anchor.error} /> : (
        <p>Newest seal (what an anchor signs): number {anchor.data!.seal_no}, sealed {when(anchor.data!.sealed_at)}, hash <code className="hash">{anchor.data!.seal_hash}</code>.</p>
      )}
      {last.isPending ? <Loading what="the last anchor" /> : last.error ? <Problem error={last.error} /> : last.data ? (
        <p>Last anchor: seal {last.data.seal_no}, written {when(last.data.anchored_at)} to <code>{last.data.destination}</code> with key {last.data.key_id}
          {last.data.seals_since > 0 ? <>; <mark>{last.data.seals_since} seal(s) made since are not anchored yet</mark></> : null}.</p>
      ) : <p><mark>No anchor has been written</mark>: a rewrite of the whole chain would go unnoticed. Set ANCHOR_DIR for the worker, or run pgcomply anchor.</p>}
    </>
  );
}

/** a report opens in a tab of its own: one self-contained page, printable to PDF */
async function openReport(id: string | number): Promise<void> {
  const { html } = await api.reports.html.query({ report_id: Number(id) });
  const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
  window.open(url, '_blank');
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function Reports() {
  const client = useQueryClient();
  const reports = useQuery({ queryKey: ['reports.list'], queryFn: () => api.reports.list.query() });
  const open = useMutation({ mutationFn: openReport });
  const generate = useMutation({ mutationFn: (month: string) => api.reports.generate.mutate({ month }), onSuccess: () => client.invalidateQueries({ queryKey: ['reports.list'] }) });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    generate.mutate(String(new FormData(event.currentTarget).get('month')));
  };
  return (
    <>
      <h3>Monthly reports</h3>
      <form onSubmit={submit} className="inline">
        <label>Month<input type="month" name="month" required defaultValue={new Date().toISOString().slice(0, 7)} /></label>
        <button type="submit" className="outline" aria-busy={generate.isPending}>Compute the report</button>
      </form>
      {generate.data ? <p role="status">Computed the report for {new Date(generate.data.period_from).toISOString().slice(0, 7)}: SHA-256 <code className="hash">{generate.data.content_sha256}</code>.</p> : null}
      <Problem error={generate.error ?? open.error} />
      {reports.isPending ? <Loading what="the reports" /> : reports.error ? <Problem error={reports.error} /> : reports.data!.length === 0 ? <p>No report yet.</p> : (
        <ul aria-label="Monthly reports">
          {reports.data!.map((r) => (
            <li key={r.id}>
              <button type="button" className="link" onClick={() => open.mutate(r.id)}>
                Open the report for {new Date(r.period_from).toISOString().slice(0, 7)} (report {r.id})</button> computed {when(r.generated_at)}{r.complete ? '' : ', month not over'}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function Evidence() {
  const pack = useMutation({
    mutationFn: (period: { from: string; to: string }) => api.evidence.package.mutate({ from: new Date(period.from), to: new Date(period.to) }),
    onSuccess: (result) => download(`evidence-${result.package_id}.json`, json(result), 'application/json'),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    pack.mutate({ from: String(form.get('from')), to: String(form.get('to')) });
  };
  const today = new Date().toISOString().slice(0, 10);
  return (
    <>
      <h3>Evidence package</h3>
      <form onSubmit={submit} className="inline">
        <label>From<input type="date" name="from" required defaultValue={`${today.slice(0, 4)}-01-01`} /></label>
        <label>To (exclusive)<input type="date" name="to" required defaultValue={today} /></label>
        <button type="submit" className="outline" aria-busy={pack.isPending}>Download the evidence package</button>
      </form>
      {pack.data ? <p role="status">Package {pack.data.package_id}, manifest SHA-256 <code className="hash">{pack.data.manifest_sha256}</code>.</p> : null}
      <Problem error={pack.error} />
    </>
  );
}
