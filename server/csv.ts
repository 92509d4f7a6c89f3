/**
 * The subject export as one RFC 4180 CSV table in long form: section, record, field, value.
 * Every value of the JSON document appears once; nested objects are written as JSON text.
 * Columns and row order are stable, so two exports of the same data are byte-identical.
 */
const HEADER = ['section', 'record', 'field', 'value'] as const;

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** the text of one cell: empty for NULL, ISO 8601 for dates, JSON for objects */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** RFC 4180: CRLF line ends, fields quoted when they hold a quote, comma or line break */
export function formatCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => row.map(quote).join(',')).join('\r\n') + '\r\n';
}

function recordKey(section: string, record: Record<string, unknown>, index: number): string {
  const key = record.id ?? record.conversation_id ?? record.user_id;
  return key === undefined || key === null ? `${section}#${index + 1}` : String(key);
}

export function toCsvRows(document: Record<string, unknown>): string[][] {
  const rows: string[][] = [];
  const pushRecord = (section: string, record: Record<string, unknown>, index: number, skip: string[] = []) => {
    const key = recordKey(section, record, index);
    for (const field of Object.keys(record).sort()) {
      if (!skip.includes(field)) rows.push([section, key, field, cellText(record[field])]);
    }
  };
  for (const section of Object.keys(document).sort()) {
    const value = document[section];
    if (section === 'registered_tables' && value !== null && typeof value === 'object') {
      // each of the product's registered tables is a section of its own, named schema.table
      const tables = value as Record<string, Record<string, unknown>[]>;
      for (const table of Object.keys(tables).sort()) tables[table]!.forEach((record, index) => pushRecord(table, record, index));
    } else if (Array.isArray(value)) {
      value.forEach((record, index) => {
        if (section === 'conversations') {
          const conversation = record as Record<string, unknown>;
          pushRecord(section, conversation, index, ['messages']);
          ((conversation.messages as Record<string, unknown>[] | undefined) ?? []).forEach((message, n) =>
            pushRecord('messages', { conversation_id: conversation.conversation_id, ...message }, n),
          );
        } else {
          pushRecord(section, record as Record<string, unknown>, index);
        }
      });
    } else if (value !== null && typeof value === 'object') {
      pushRecord(section, value as Record<string, unknown>, 0);
    } else {
      rows.push([section, '', '', cellText(value)]);
    }
  }
  return rows;
}

export function toCsv(document: Record<string, unknown>): string {
  return formatCsv([HEADER, ...toCsvRows(document)]);
}

export function toCsvTable(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  return formatCsv([columns, ...rows.map((row) => columns.map((column) => cellText(row[column])))]);
}

/** the download name of a subject's export: the id with anything but [A-Za-z0-9._-] replaced */
export function exportFileName(subject: string, format: 'json' | 'csv'): string {
  return `user_data_${subject.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100)}.${format}`;
}
