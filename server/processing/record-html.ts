/**
 * The record of processing activities (GDPR Art. 30) as one self-contained HTML page a DPO hands
 * to a supervisory authority: inline CSS, no script, no fetch, readable printed to PDF.
 */
type Json = Record<string, any>;

const escape = (text: unknown): string =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const BASES: Record<string, string> = {
  consent: 'Consent (Art. 6(1)(a))', contract: 'Contract (Art. 6(1)(b))', legal_obligation: 'Legal obligation (Art. 6(1)(c))',
  vital_interests: 'Vital interests (Art. 6(1)(d))', public_task: 'Public task (Art. 6(1)(e))', legitimate_interest: 'Legitimate interest (Art. 6(1)(f))',
};
const SAFEGUARDS: Record<string, string> = {
  adequacy_decision: 'adequacy decision (Art. 45)', standard_contractual_clauses: 'standard contractual clauses (Art. 46(2)(c))',
  binding_corporate_rules: 'binding corporate rules (Art. 47)', derogation: 'derogation (Art. 49)',
};

const list = (items: string[]) => (items.length ? `<ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>` : '<p class="none">None.</p>');

function activitySection(activity: Json): string {
  const purposes = (activity.purposes as Json[]).map((p) => `${escape(p.purpose)}: <strong>${p.legal_basis ? escape(BASES[p.legal_basis] ?? p.legal_basis) : '<span class="gap">no legal basis</span>'}</strong>`
    + (p.consent_purpose ? ` (consent purpose <code>${escape(p.consent_purpose)}</code>)` : '') + (p.direct_marketing ? ' · direct marketing' : ''));
  const data = (activity.data as Json[]).map((d) => `<code>${escape(d.table)}</code>: ${escape((d.categories ?? []).join(', '))}`);
  const recipients = (activity.recipients as Json[]).map((r) => `${escape(r.name)} (${escape(r.kind.replace(/_/g, ' '))}, ${escape(r.country)}`
    + (r.third_country ? `, transfer to a third country: ${r.transfer_safeguard ? escape(SAFEGUARDS[r.transfer_safeguard] ?? r.transfer_safeguard) : '<span class="gap">no safeguard</span>'}` : '')
    + (r.dpa_reference ? `; DPA ${escape(r.dpa_reference)}` : '') + ')');
  return `<section aria-labelledby="a-${escape(activity.activity)}"><h2 id="a-${escape(activity.activity)}">${escape(activity.name)}</h2>`
    + `<dl><dt>Key</dt><dd><code>${escape(activity.activity)}</code></dd><dt>Role</dt><dd>${escape(activity.role.replace(/_/g, ' '))}</dd>`
    + (activity.description ? `<dt>What is done</dt><dd>${escape(activity.description)}</dd>` : '')
    + `<dt>Categories of data subjects</dt><dd>${escape((activity.subject_categories ?? []).join(', ') || 'not stated')}</dd>`
    + `<dt>Retention</dt><dd>${escape(activity.retention ?? 'not stated')}</dd>`
    + `<dt>Security measures</dt><dd>${escape(activity.security_measures ?? 'not stated')}</dd></dl>`
    + `<h3>Purposes and legal bases</h3>${list(purposes)}<h3>Personal data</h3>${list(data)}<h3>Recipients</h3>${list(recipients)}</section>`;
}

export function renderProcessingRecord(record: Json): string {
  const generated = new Date(record.generated_at).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const gaps = (record.gaps ?? []) as Json[];
  const systems = (record.systems ?? []) as Json[];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`
    + `<title>Record of processing activities</title><style>`
    + 'body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}'
    + 'h1{font-size:1.6rem}h2{font-size:1.25rem;border-top:1px solid #bbb;padding-top:1rem}h3{font-size:1rem;margin-bottom:.2rem}'
    + 'dl{display:grid;grid-template-columns:14rem 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}'
    + 'table{border-collapse:collapse;width:100%}th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}'
    + '.gap{color:#9b1c1c;font-weight:600}.none{color:#555}.gaps{border:2px solid #9b1c1c;padding:.5rem 1rem}.ok{border:2px solid #1d6b2e;padding:.5rem 1rem}'
    + '@media print{body{margin:0}section{break-inside:avoid}}</style></head><body><main>'
    + `<h1>Record of processing activities</h1><p>GDPR Article 30. Generated ${escape(generated)} from the live database.</p>`
    + (gaps.length
      ? `<div class="gaps" role="alert"><h2>What the record lacks (${gaps.length})</h2>${list(gaps.map((g) => escape(g.detail)))}</div>`
      : '<p class="ok">The record covers every table holding personal data, with a legal basis for each purpose and a safeguard for each transfer.</p>')
    + ((record.activities ?? []) as Json[]).map(activitySection).join('')
    + '<section aria-labelledby="systems"><h2 id="systems">Systems and recipients</h2>'
    + (systems.length
      ? `<table><thead><tr><th scope="col">System</th><th scope="col">Kind</th><th scope="col">Country</th><th scope="col">DPA</th><th scope="col">Requests reach it by</th></tr></thead><tbody>`
        + systems.map((s) => `<tr><td>${escape(s.name)}</td><td>${escape(s.kind.replace(/_/g, ' '))}</td><td>${escape(s.country)}</td><td>${escape(s.dpa_reference ?? '')}</td>`
          + `<td>${escape(s.connector)}${s.connector === 'none' ? '' : ` (${escape((s.request_kinds ?? []).join(', '))}; within ${escape(s.confirm_within)})`}</td></tr>`).join('')
        + '</tbody></table>'
      : '<p class="none">No system receives personal data.</p>')
    + '</section></main></body></html>';
}
