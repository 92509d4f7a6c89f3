/** What verification reports that does not fail it (as compliance.verify_audit_log's notes). */
export interface Note {
  kind: 'pending_redaction' | 'unsealed_id_range';
  seal_no: number | null;
  row_id?: number;
  from?: number;
  to?: number;
  detail: string;
}
