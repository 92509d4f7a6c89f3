/**
 * The record of processing as one CSV table a DPO opens in a spreadsheet: a row per activity and
 * purpose, its legal basis, the tables and categories of data, the recipients with their country
 * and safeguard, retention and security measures. The gaps follow as rows of their own.
 */
import { toCsvTable } from '../csv.js';

type Json = Record<string, any>;

const COLUMNS = ['activity', 'name', 'role', 'purpose', 'legal_basis', 'consent_purpose', 'direct_marketing', 'subject_categories',
  'data', 'recipients', 'retention', 'security_measures', 'gap'] as const;

export function processingRecordCsv(record: Json): string {
  const rows: Record<string, unknown>[] = [];
  for (const activity of (record.activities ?? []) as Json[]) {
    const common = {
      activity: activity.activity, name: activity.name, role: activity.role,
      subject_categories: (activity.subject_categories ?? []).join('; '),
      data: (activity.data ?? []).map((d: Json) => `${d.table} (${(d.categories ?? []).join(', ')})`).join('; '),
      recipients: (activity.recipients ?? []).map((r: Json) => `${r.name} [${r.country}${r.third_country ? `, third country: ${r.transfer_safeguard ?? 'NO SAFEGUARD'}` : ''}]`).join('; '),
      retention: activity.retention, security_measures: activity.security_measures,
    };
    const purposes = (activity.purposes ?? []) as Json[];
    if (purposes.length === 0) rows.push(common);
    for (const purpose of purposes) {
      rows.push({ ...common, purpose: purpose.purpose, legal_basis: purpose.legal_basis, consent_purpose: purpose.consent_purpose,
        direct_marketing: purpose.direct_marketing });
    }
  }
  for (const gap of (record.gaps ?? []) as Json[]) rows.push({ activity: gap.activity, gap: gap.detail });
  return toCsvTable(COLUMNS, rows);
}
