/**
 * The monthly report as one self-contained HTML page: inline CSS and SVG, no script, no fetch,
 * readable printed to PDF. Every figure links to the evidence population it was counted from
 * (GET /api/v1/evidence/{population}?from=&to=), so an auditor can recount it.
 */

type Json = Record<string, any>;

const escape = (text: unknown): string =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function populationHref(population: string, period: { from: string; to: string }): string {
  return `/api/v1/evidence/${encodeURIComponent(population)}?from=${encodeURIComponent(period.from)}&to=${encodeURIComponent(period.to)}`;
}

/** a figure and the population behind it */
function figure(label: string, value: unknown, population: string | undefined, period: { from: string; to: string }): string {
  const shown = value === null || value === undefined ? 'n/a' : escape(value);
  const linked = population ? `<a href="${escape(populationHref(population, period))}" title="from the ${escape(population)} population">${shown}</a>` : shown;
  return `<div class="figure"><span class="value">${linked}</span><span class="label">${escape(label)}</span></div>`;
}

/** horizontal bars, one per row, value between 0 and max */
function barChart(title: string, rows: { label: string; value: number; max: number; text: string }[]): string {
  if (rows.length === 0) return `<p class="empty">${escape(title)}: nothing in this period.</p>`;
  const rowHeight = 22;
  const labelWidth = 190;
  const barWidth = 320;
  const height = rows.length * rowHeight + 8;
  const bars = rows.map((row, i) => {
    const y = i * rowHeight + 4;
    const width = row.max > 0 ? Math.max(0, Math.min(1, row.value / row.max)) * barWidth : 0;
    return `<text x="0" y="${y + 14}" class="axis">${escape(row.label)}</text>`
      + `<rect x="${labelWidth}" y="${y + 3}" width="${barWidth}" height="14" class="track"/>`
      + `<rect x="${labelWidth}" y="${y + 3}" width="${width.toFixed(1)}" height="14" class="bar"/>`
      + `<text x="${labelWidth + barWidth + 8}" y="${y + 14}" class="axis">${escape(row.text)}</text>`;
  }).join('');
  return `<svg role="img" aria-labelledby="t-${escape(title.replace(/\W+/g, '-'))}" viewBox="0 0 ${labelWidth + barWidth + 90} ${height}" width="100%">`
    + `<title id="t-${escape(title.replace(/\W+/g, '-'))}">${escape(title)}</title>${bars}</svg>`;
}

function consentTrend(trend: Json, period: { from: string; to: string }): string {
  const weeks: { purpose: string; week: string; granted: number; withdrawn: number }[] = trend.weeks ?? [];
  const purposes = [...new Set(weeks.map((w) => w.purpose))];
  const max = Math.max(1, ...weeks.map((w) => Math.max(w.granted, w.withdrawn)));
  const charts = purposes.map((purpose) => barChart(`Consent for ${purpose}, per week: granted / withdrawn`,
    weeks.filter((w) => w.purpose === purpose).flatMap((w) => [
      { label: `${w.week.slice(0, 10)} granted`, value: w.granted, max, text: String(w.granted) },
      { label: `${w.week.slice(0, 10)} withdrawn`, value: w.withdrawn, max, text: String(w.withdrawn) },
    ])));
  return `<h3>Consent grants and withdrawals (<a href="${escape(populationHref(trend.population, period))}">consent_changes</a>)</h3>`
    + (charts.length ? charts.join('') : '<p class="empty">No consent was given or withdrawn in this period.</p>');
}

function table(headers: string[], rows: unknown[][]): string {
  if (rows.length === 0) return '<p class="empty">None in this period.</p>';
  return `<table><thead><tr>${headers.map((h) => `<th scope="col">${escape(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((row) => `<tr>${row.map((cell) => `<td>${escape(cell ?? '')}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

const percent = (ratio: unknown) => (ratio === null || ratio === undefined ? 'n/a' : `${(Number(ratio) * 100).toFixed(2)}%`);

export interface StoredReport {
  id: string;
  kind: string;
  period_from: Date;
  period_to: Date;
  generated_at: Date;
  complete: boolean;
  content: Json;
  content_sha256: string;
}

/** "TLSv1.3 in 30 runs, none in 2 runs" ("none": connections without TLS); reports made before the TLS section say so */
function tlsVersions(seen: Record<string, number> | undefined): string {
  if (!seen) return 'not recorded in this report (computed before the TLS section existed)';
  const entries = Object.entries(seen);
  if (entries.length === 0) return 'no client_tls check ran in the period';
  return entries.map(([version, runs]) => `${escape(version === 'none' ? 'without TLS' : version)} in ${runs} run(s)`).join(', ');
}

const duration = (seconds: unknown) => {
  if (seconds === null || seconds === undefined) return 'n/a';
  const s = Number(seconds);
  return s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(2)} h`;
};

/** backups, restore drills and the recovery point; reports made before the section say so */
function recoverySection(recovery: Json | undefined, period: { from: string; to: string }): string {
  if (!recovery) return '<p class="empty">Not recorded in this report (computed before the recovery section existed).</p>';
  const { backups, restore_drills: drills, recovery_point: point } = recovery;
  return `<div class="figures">
${figure('backups taken', backups.value, backups.population, period)}
${figure('full backups', backups.full, backups.population, period)}
${figure('backups failed', backups.failed, backups.population, period)}
${figure('restore drills', drills.value, drills.population, period)}
${figure('drills passed', drills.passed, drills.population, period)}
${figure(`longest recovery (RTO ${duration(drills.rto_objective_seconds)})`, duration(drills.max_rto_seconds), drills.population, period)}
${figure('largest archive lag (RPO 1 h)', point.value === null ? 'not measured' : duration(point.value), point.population, period)}
</div>
${point.value === null ? `<p class="empty">Recovery point: ${escape(point.not_applicable)}.</p>`
    : `<p>Continuous archiving measured in ${escape(point.runs)} check run(s), ${escape(point.failed_runs)} over the threshold of ${duration(point.threshold_seconds)}.</p>`}`;
}

export function renderMonthlyReport(report: StoredReport): string {
  const c = report.content;
  const period = { from: report.period_from.toISOString(), to: report.period_to.toISOString() };
  const month = period.from.slice(0, 7);
  const gdpr = c.gdpr, soc2 = c.soc2, hipaa = c.hipaa, chain = c.audit_chain;
  const checks: Json[] = soc2.check_pass_rates.checks;
  const anchor = chain.last_anchor;
  const seal = chain.newest_seal;
  const verification = chain.latest_verification;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pgcomply compliance report ${escape(month)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.45 system-ui, sans-serif; color: #1b1b1b; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 2px solid #1f4e79; padding-bottom: .2rem; margin-top: 2rem; }
.meta { color: #444; } .figures { display: flex; flex-wrap: wrap; gap: .75rem; }
.figure { border: 1px solid #c8c8c8; border-radius: 4px; padding: .5rem .8rem; min-width: 9rem; }
.value { display: block; font-size: 1.5rem; font-weight: 600; } .label { color: #444; }
a { color: #1f4e79; } table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid #c8c8c8; padding: .25rem .5rem; text-align: left; } th { background: #eef3f8; }
svg .axis { font: 12px system-ui, sans-serif; fill: #1b1b1b; } svg .bar { fill: #1f4e79; } svg .track { fill: #e6e6e6; }
.empty { color: #444; font-style: italic; } code { word-break: break-all; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; text-decoration: none; } section { break-inside: avoid; } }
</style></head>
<body>
<header><h1>Compliance report, ${escape(month)}</h1>
<p class="meta">Period ${escape(period.from)} to ${escape(period.to)} (UTC, end exclusive)${report.complete ? '' : ' &mdash; <strong>computed before the month ended</strong>'}.
Report ${escape(report.id)}, computed ${escape(report.generated_at.toISOString())}; content SHA-256 <code>${escape(report.content_sha256)}</code>, also in the audit chain (report.generated).</p></header>
<main>
<section><h2>GDPR</h2><div class="figures">
${figure('requests received', gdpr.requests_received.value, gdpr.requests_received.population, period)}
${figure('requests completed', gdpr.requests_completed.value, gdpr.requests_completed.population, period)}
${figure('requests overdue', gdpr.requests_overdue.value, gdpr.requests_overdue.population, period)}
${figure('median days to complete', gdpr.median_days_to_complete.value, gdpr.median_days_to_complete.population, period)}
${figure('erasures', gdpr.erasures.value, gdpr.erasures.population, period)}
</div>
${consentTrend(gdpr.consent_trend, period)}</section>
<section><h2>Retention</h2>
<p>Rows deleted per category (<a href="${escape(populationHref(c.retention.population, period))}">retention_runs</a>):</p>
${table(['category', 'rows deleted'], c.retention.deleted_per_category.map((r: Json) => [r.category, r.deleted]))}</section>
<section><h2>SOC 2</h2><div class="figures">
${figure('uptime', percent(soc2.uptime.value), soc2.uptime.population, period)}
${figure('access review campaigns', soc2.access_reviews.campaigns, soc2.access_reviews.population, period)}
${figure('campaigns completed', soc2.access_reviews.completed, soc2.access_reviews.population, period)}
${figure('campaigns overdue', soc2.access_reviews.overdue, soc2.access_reviews.population, period)}
${figure('review items decided', `${soc2.access_reviews.decided} / ${soc2.access_reviews.items}`, soc2.access_reviews.population, period)}
${figure('evidence packages produced', soc2.evidence_packages.value, soc2.evidence_packages.population, period)}
</div>
<h3>Compliance check pass rates (<a href="${escape(populationHref(soc2.check_pass_rates.population, period))}">verification_results</a>)</h3>
${barChart('Compliance check pass rates', checks.map((k) => ({ label: k.check, value: Number(k.pass_rate ?? 0), max: 1,
    text: k.pass_rate === null ? 'not measured' : `${percent(k.pass_rate)} of ${k.runs - k.not_applicable}` })))}</section>
<section><h2>HIPAA</h2><div class="figures">
${figure('PHI accesses', hipaa.phi_accesses.value, hipaa.phi_accesses.population, period)}
${figure('PHI accesses refused', hipaa.phi_refused.value, hipaa.phi_refused.population, period)}
${figure('integrity failures', hipaa.integrity_failures.value, hipaa.integrity_failures.population, period)}
${figure('unusual-access findings', hipaa.unusual_access_findings.value, hipaa.unusual_access_findings.population, period)}
${figure('emergency accesses', hipaa.emergency_access.value, hipaa.emergency_access.population, period)}
${figure('emergency reviews done', hipaa.emergency_access.reviewed, hipaa.emergency_access.population, period)}
${figure('emergency reviews overdue', hipaa.emergency_access.review_overdue, hipaa.emergency_access.population, period)}
</div></section>
<section><h2>Audit chain</h2>
<p>Latest verification (<a href="${escape(populationHref(chain.population, period))}">verification_results</a>):
${verification ? `<strong>${escape(verification.status)}</strong>, ${escape(verification.detail)} (${escape(verification.at)})` : 'none in or before this period'}.</p>
<p>Newest seal: ${seal ? `seal ${escape(seal.seal_no)}, sealed ${escape(seal.sealed_at)}, hash <code>${escape(seal.seal_hash)}</code>` : 'no seal yet'}.</p>
<p>Last anchor: ${anchor ? `seal ${escape(anchor.seal_no)}, written ${escape(anchor.anchored_at)} to <code>${escape(anchor.destination)}</code> with key ${escape(anchor.key_id)}` : 'none was written outside the database, so a rewrite of the whole chain would go unnoticed'}.</p></section>
<section><h2>TLS to the database</h2>
<p>Versions seen on database connections by the month's client_tls checks (<a href="${escape(populationHref(c.tls?.population ?? 'verification_results', period))}">verification_results</a>):
${tlsVersions(c.tls?.database_versions_seen)}.</p></section>
<section><h2>Backups and recovery</h2>
${recoverySection(c.recovery, period)}</section>
<section><h2>Breaches</h2><div class="figures">${figure('breaches discovered', c.breaches.value, c.breaches.population, period)}</div>
${table(['breach', 'discovered', 'status', 'affected', 'authority notified', 'individuals notified', 'closed'],
    c.breaches.items.map((b: Json) => [b.id, b.discovered_at, b.status, b.affected_count, b.notified_authority_at, b.notified_individuals_at, b.closed_at]))}</section>
</main></body></html>
`;
}
