/**
 * Compliance (DPO and auditors): the latest result of each check with its history, the audit
 * chain's status and newest seal (what an anchor signs), the monthly reports, and (auditors)
 * the evidence package.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { zipSync, strToU8 } from 'fflate';
import type { FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, download, when } from '../api.js';
import { Loading, Problem } from '../ui.js';

const MARK = { pass: '✓', fail: '✗', not_applicable: '–' } as const;

export function Compliance({ isDpo, isAuditor }: { isDpo: boolean; isAuditor: boolean }) {
  const { t } = useTranslation();
  return (
    <section aria-labelledby="compliance-title">
      <h2 id="compliance-title">{t('compliance.title')}</h2>
      <Checks canRun={isDpo} />
      <AuditChain canVerify={isDpo} />
      <Reports />
      {isAuditor ? <Evidence /> : null}
    </section>
  );
}

function Checks({ canRun }: { canRun: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const history = useQuery({ queryKey: ['checks.history'], queryFn: () => api.checks.history.query({ runs: 14 }) });
  const run = useMutation({ mutationFn: () => api.dpo.operations.runChecks.mutate({}), onSuccess: () => client.invalidateQueries({ queryKey: ['checks.history'] }) });
  const byCheck = new Map<string, NonNullable<typeof history.data>>();
  for (const row of history.data ?? []) byCheck.set(row.check_name, [...(byCheck.get(row.check_name) ?? []), row]);
  return (
    <>
      <h3>{t('checks.title')}</h3>
      {canRun ? <button type="button" className="outline" onClick={() => run.mutate()} aria-busy={run.isPending}>{t('checks.run')}</button> : null}
      <Problem error={run.error} />
      {history.isPending ? <Loading what={t('checks.what')} /> : history.error ? <Problem error={history.error} /> : byCheck.size === 0 ? <p>{t('checks.none')}</p> : (
        <table aria-label={t('checks.table')}>
          <thead><tr><th scope="col">{t('checks.check')}</th><th scope="col">{t('checks.latest')}</th><th scope="col">{t('column.when')}</th><th scope="col">{t('checks.detail')}</th><th scope="col">{t('checks.history')}</th></tr></thead>
          <tbody>
            {[...byCheck].map(([name, rows]) => (
              <tr key={name} className={rows[0]!.status === 'fail' ? 'overdue' : undefined}>
                <th scope="row">{name.replace(/_/g, ' ')}</th><td>{t(`checks.status.${rows[0]!.status}`)}</td><td>{when(rows[0]!.started_at)}</td><td>{rows[0]!.detail}</td>
                <td aria-label={rows.map((r) => t(`checks.status.${r.status}`)).join(', ')}><span aria-hidden="true">{rows.map((r) => MARK[r.status]).join(' ')}</span></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** what each kind of finding means, and where db/AUDIT_HASHING.md explains it */
const HASHING_DOC = '/docs/AUDIT_HASHING.md';

function AuditChain({ canVerify }: { canVerify: boolean }) {
  const { t } = useTranslation();
  const anchor = useQuery({ queryKey: ['evidence.anchorState'], queryFn: () => api.evidence.anchorState.query({}) });
  const last = useQuery({ queryKey: ['evidence.lastAnchor'], queryFn: () => api.evidence.lastAnchor.query() });
  const history = useQuery({ queryKey: ['checks.history'], queryFn: () => api.checks.history.query({ runs: 14 }) });
  const verify = useMutation({ mutationFn: () => api.dpo.verifyAuditLog.query() });
  const latest = history.data?.find((r) => r.check_name === 'audit_chain');
  return (
    <>
      <h3>{t('chain.title')}</h3>
      <p>{latest ? t('chain.lastVerified', { at: when(latest.started_at), status: t(`checks.status.${latest.status}`), detail: latest.detail }) : t('chain.notVerified')}</p>
      {canVerify ? <button type="button" className="outline" onClick={() => verify.mutate()} aria-busy={verify.isPending}>{t('chain.verify')}</button> : null}
      <Problem error={verify.error} />
      {verify.data ? (
        <div role="status" className="verification">
          <p>{verify.data.ok ? t('chain.ok', { seals: verify.data.seals_checked, rows: verify.data.rows_checked, unsealed: verify.data.unsealed_rows })
            : t('chain.failed', { count: verify.data.problems.length, seals: verify.data.seals_checked, rows: verify.data.rows_checked })}</p>
          {verify.data.problems.length > 0 ? <Findings label={t('chain.problems')} findings={verify.data.problems} /> : null}
          {verify.data.notes.length > 0 ? <Findings label={t('chain.notes')} findings={verify.data.notes} /> : null}
          <p><a href={HASHING_DOC} target="_blank" rel="noreferrer">{t('chain.doc')}</a></p>
        </div>
      ) : null}
      {anchor.isPending ? <Loading what={t('chain.what.seal')} /> : anchor.error ? <Problem error={anchor.error} /> : (
        <p>{t('chain.newestSeal', { no: anchor.data!.seal_no, at: when(anchor.data!.sealed_at) })} <code className="hash">{anchor.data!.seal_hash}</code></p>
      )}
      {last.isPending ? <Loading what={t('chain.what.anchor')} /> : last.error ? <Problem error={last.error} /> : last.data ? (
        <p>{t('chain.lastAnchor', { no: last.data.seal_no, at: when(last.data.anchored_at), destination: last.data.destination, key: last.data.key_id })}
          {last.data.seals_since > 0 ? <> <mark>{t('chain.sealsSince', { count: last.data.seals_since })}</mark></> : null}</p>
      ) : <p><mark>{t('chain.noAnchor')}</mark> {t('chain.noAnchorHelp')}</p>}
    </>
  );
}

type Finding = { kind: string; seal_no: number | null; row_id?: number; from?: number; to?: number; detail: string };

/** each finding with its kind, row and seal, what it means, and the section of db/AUDIT_HASHING.md that says more */
function Findings({ label, findings }: { label: string; findings: Finding[] }) {
  const { t, i18n } = useTranslation();
  return (
    <table aria-label={label}>
      <thead><tr><th scope="col">{t('chain.kind')}</th><th scope="col">{t('chain.row')}</th><th scope="col">{t('chain.seal')}</th><th scope="col">{t('chain.detail')}</th><th scope="col">{t('chain.meaning')}</th></tr></thead>
      <tbody>
        {findings.map((f, index) => (
          <tr key={`${f.kind}-${f.row_id ?? f.from ?? index}-${index}`}>
            <th scope="row"><code>{f.kind}</code></th>
            <td>{f.row_id ?? (f.from !== undefined ? `${f.from}–${f.to}` : '—')}</td>
            <td>{f.seal_no ?? '—'}</td>
            <td>{f.detail}</td>
            <td>{i18n.exists(`chain.meanings.${f.kind}`) ? t(`chain.meanings.${f.kind}`) : t('chain.meanings.other')}
              {' '}<a href={`${HASHING_DOC}#${i18n.exists(`chain.sections.${f.kind}`) ? t(`chain.sections.${f.kind}`) : 'what-verification-checks'}`} target="_blank" rel="noreferrer">{t('chain.readMore')}</a></td>
          </tr>
        ))}
      </tbody>
    </table>
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
  const { t } = useTranslation();
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
      <h3>{t('reports.title')}</h3>
      <form onSubmit={submit} className="inline">
        <label>{t('reports.month')}<input type="month" name="month" required defaultValue={new Date().toISOString().slice(0, 7)} /></label>
        <button type="submit" className="outline" aria-busy={generate.isPending}>{t('reports.compute')}</button>
      </form>
      {generate.data ? <p role="status">{t('reports.computed', { month: new Date(generate.data.period_from).toISOString().slice(0, 7) })} <code className="hash">{generate.data.content_sha256}</code></p> : null}
      <Problem error={generate.error ?? open.error} />
      {reports.isPending ? <Loading what={t('reports.what')} /> : reports.error ? <Problem error={reports.error} /> : reports.data!.length === 0 ? <p>{t('reports.none')}</p> : (
        <ul aria-label={t('reports.title')}>
          {reports.data!.map((r) => (
            <li key={r.id}>
              <button type="button" className="link" onClick={() => open.mutate(r.id)}>
                {t('reports.open', { month: new Date(r.period_from).toISOString().slice(0, 7) })}</button> {t('reports.computedAt', { at: when(r.generated_at) })}{r.complete ? '' : t('reports.notOver')}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** the last full calendar month (UTC, as the populations count): its first day and the first day after it */
function lastFullMonth(now = new Date()): { from: string; to: string } {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 1, 1));
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** the package as the CLI writes it: one CSV per population and manifest.json, in one ZIP */
function evidenceZip(made: Awaited<ReturnType<typeof api.evidence.package.mutate>>): Uint8Array<ArrayBuffer> {
  const files: Record<string, Uint8Array> = {
    'manifest.json': strToU8(`${JSON.stringify({ package_id: made.package_id, manifest_sha256: made.manifest_sha256, ...made.manifest }, null, 2)}\n`),
  };
  for (const [name, csv] of Object.entries(made.csv)) files[`${name}.csv`] = strToU8(csv);
  return zipSync(files) as Uint8Array<ArrayBuffer>;
}

function Evidence() {
  const { t } = useTranslation();
  const pack = useMutation({
    mutationFn: (period: { from: string; to: string }) => api.evidence.package.mutate({ from: new Date(`${period.from}T00:00:00Z`), to: new Date(`${period.to}T00:00:00Z`) }),
    onSuccess: (result, period) => download(`evidence_${period.from}_${period.to}_${result.package_id}.zip`, evidenceZip(result), 'application/zip'),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const through = String(form.get('through'));
    // the period ends at midnight after the last day asked for: today included when asked
    const to = new Date(Date.parse(`${through}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    pack.mutate({ from: String(form.get('from')), to });
  };
  const month = lastFullMonth();
  const lastDay = new Date(Date.parse(`${month.to}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return (
    <>
      <h3>{t('evidence.title')}</h3>
      <p>{t('evidence.intro')}</p>
      <form onSubmit={submit} className="inline">
        <label>{t('evidence.from')}<input type="date" name="from" required defaultValue={month.from} /></label>
        <label>{t('evidence.through')}<input type="date" name="through" required defaultValue={lastDay} max={new Date().toISOString().slice(0, 10)} /></label>
        <button type="submit" className="outline" aria-busy={pack.isPending}>{t('evidence.download')}</button>
      </form>
      {pack.data ? <p role="status">{t('evidence.made', { id: pack.data.package_id })} <code className="hash">{pack.data.manifest_sha256}</code></p> : null}
      <Problem error={pack.error} />
    </>
  );
}
