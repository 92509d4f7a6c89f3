/**
 * One audit event as a syslog message (RFC 5424), framed by octet counting for a TLS stream
 * (RFC 5425): "<length> <message>". The message body is the event as JSON, which carries the
 * row's id, its hash, its chain and its seal with the seal's row count and hash, so the SIEM can
 * check it has every row of each seal.
 */
import os from 'node:os';

export interface AuditEvent {
  /** the audit chain: '' on a single node, a shard's placement key on a Citus cluster */
  chain: string;
  seal_no: string;
  seal_position: number;
  seal_rows: number;
  seal_hash: string;
  id: string;
  row_hash: string;
  occurred_at: Date;
  action: string;
  category: string;
  outcome: string;
  failure_reason: string | null;
  resource_type: string | null;
  resource_id: string | null;
  details: Record<string, unknown>;
  actor: string | null;
}

/** local4: the facility a SIEM routes an application's audit stream by */
const FACILITY = 20;
const HOSTNAME = os.hostname().replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';

export function syslogFrame(event: AuditEvent): string {
  // a failure (a refused access, a denied read) is a warning; everything else is information
  const severity = event.outcome === 'failure' ? 4 : 6;
  const msgid = event.action.replace(/[^\x21-\x7e]/g, '').slice(0, 32) || '-';
  const body = JSON.stringify({
    id: event.id, row_hash: event.row_hash, chain: event.chain, seal: event.seal_no, seal_position: event.seal_position, seal_rows: event.seal_rows, seal_hash: event.seal_hash,
    occurred_at: event.occurred_at.toISOString(), action: event.action, category: event.category, outcome: event.outcome,
    failure_reason: event.failure_reason, resource_type: event.resource_type, resource_id: event.resource_id, actor: event.actor, details: event.details,
  });
  const message = `<${FACILITY * 8 + severity}>1 ${event.occurred_at.toISOString()} ${HOSTNAME} pgcomply - ${msgid} - ${body}`;
  return `${Buffer.byteLength(message)} ${message}`;
}
