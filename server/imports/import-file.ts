/**
 * pgcomply import: profiles, preferences or consent records (with their evidence) from a CSV or
 * NDJSON file, in one transaction, as the DPO named --actor. Every line is checked for its shape
 * here, so a bad line is named by its number; what only the database can judge (a constraint, an
 * erased subject, a duplicate) fails an INSERT of 10,000 rows, and the line is found by trying
 * ever shorter prefixes, each rolled back. Either way nothing of the file stays. The triggers audit
 * each row and lock the subjects. (COPY cannot write a table under row-level security, and the
 * login may not create a staging table.)
 */
import { createReadStream, statSync } from 'node:fs';
import { once } from 'node:events';
import readline from 'node:readline';
import { parse } from 'csv-parse';
import type { Sql } from 'postgres';
import { z } from 'zod';

export type ImportKind = 'profiles' | 'preferences' | 'consents';
export type ImportFormat = 'csv' | 'ndjson';

/** a line the file or the database refused; nothing of the file was loaded */
export class ImportRefused extends Error {
  constructor(readonly line: number | null, message: string) {
    super(line === null ? message : `line ${line}: ${message}`);
  }
}

const text = (max: number) => z.string().max(max);
const jsonObject = z.union([z.record(z.string(), z.unknown()), z.string().transform((value, ctx) => {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch { /* named below */ }
  ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
  return z.NEVER;
})]);
const bool = z.union([z.boolean(), z.enum(['true', 'false', 't', 'f']).transform((v) => v === 'true' || v === 't')]);
const instant = z.union([z.string().datetime({ offset: true }), z.string().regex(/^\d{4}-\d{2}-\d{2}$/)]);

/** each kind: the target table, its columns, how a JSON row reads into them, and the shape of one line */
const KINDS = {
  profiles: {
    table: 'compliance.user_profiles',
    columns: ['user_id', 'username', 'email', 'full_name', 'metadata'],
    types: 'user_id text, username text, email text, full_name text, metadata jsonb',
    select: "r.user_id, r.username, r.email, r.full_name, coalesce(r.metadata, '{}')",
    line: z.strictObject({ user_id: text(256).min(1), username: text(256).optional(), email: text(320).optional(),
      full_name: text(512).optional(), metadata: jsonObject.optional() }),
  },
  preferences: {
    table: 'compliance.user_preferences',
    columns: ['user_id', 'preferences'],
    types: 'user_id text, preferences jsonb',
    select: 'r.user_id, r.preferences',
    line: z.strictObject({ user_id: text(256).min(1), preferences: jsonObject }),
  },
  consents: {
    table: 'compliance.consent_records',
    columns: ['user_id', 'purpose', 'granted', 'policy_version', 'source', 'given_at'],
    types: 'user_id text, purpose text, granted boolean, policy_version text, source text, given_at timestamptz',
    select: 'r.user_id, r.purpose, r.granted, r.policy_version, r.source, r.given_at',
    line: z.strictObject({ user_id: text(256).min(1), purpose: text(128).min(1), granted: bool, policy_version: text(64).min(1),
      source: z.enum(['import', 'api', 'dba']).default('import'), given_at: instant }),
  },
} as const;

export const IMPORT_KINDS = Object.keys(KINDS) as ImportKind[];

export function formatOf(file: string, given?: string): ImportFormat {
  if (given === 'csv' || given === 'ndjson') return given;
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.(ndjson|jsonl)$/i.test(file)) return 'ndjson';
  throw new ImportRefused(null, `cannot tell the format of ${file}: name it .csv or .ndjson, or give --format`);
}

/** the file's records with their line numbers: NDJSON a line each (blank lines skipped), CSV by its header */
async function* records(file: string, format: ImportFormat): AsyncGenerator<{ line: number; bytes: number; record: Record<string, unknown> }> {
  if (format === 'ndjson') {
    let line = 0;
    let bytes = 0;
    for await (const raw of readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      line += 1;
      bytes += Buffer.byteLength(raw) + 1;
      if (raw.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(raw);
      } catch {
        throw new ImportRefused(line, 'not a JSON object');
      }
      if (!record || typeof record !== 'object' || Array.isArray(record)) throw new ImportRefused(line, 'not a JSON object');
      yield { line, bytes, record: record as Record<string, unknown> };
    }
    return;
  }
  const parser = createReadStream(file).pipe(parse({ columns: true, skip_empty_lines: true, info: true, relax_column_count: false }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; bytes: number } }>) {
      // an empty field is an absent value
      yield { line: info.lines, bytes: info.bytes, record: Object.fromEntries(Object.entries(record).filter(([, v]) => v !== '')) };
    }
  } catch (error) {
    const lines = (error as { lines?: number }).lines;
    throw new ImportRefused(lines ?? null, `not valid CSV: ${(error as Error).message.replace(/^Invalid Record Length: /, '')}`);
  }
}

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.join(', ')}`;
    return `${issue.path.join('.') || 'the line'}: ${issue.message}`;
  }).join('; ');
}

export interface ImportResult {
  kind: ImportKind;
  file: string;
  rows: number;
  audit_rows: number;
}

/** rows per INSERT: each is one statement, so the triggers audit and lock set-based */
const CHUNK = 10_000;

/**
 * Loads the whole file or nothing. sql: a connection as the server login (the CLI's session);
 * the rows are written as compliance_dpo for `actor`, so row-level security, grants and the
 * triggers decide as for any DPO write.
 */
export async function importFile(sql: Sql, options: { kind: ImportKind; file: string; format?: string; actor: string;
  onBytes?: (done: number, total: number) => void }): Promise<ImportResult> {
  const spec = KINDS[options.kind];
  const format = formatOf(options.file, options.format);
  const total = statSync(options.file).size;
  return sql.begin(async (tx) => {
    // as a DPO: row-level security, the column grants and the triggers judge every row
    await tx`select set_config('role', 'compliance_dpo', true)`;
    await tx`select compliance.set_request_context(${options.actor}, '{dpo}'::text[], null, 'pgcomply-import')`;
    const [before] = await tx<{ n: string }[]>`select coalesce(max(id), 0)::text as n from compliance.audit_logs`;
    const insert = (rows: Record<string, unknown>[]) => tx.unsafe(
      `insert into ${spec.table} (${spec.columns.join(', ')}) select ${spec.select} from jsonb_to_recordset($1::text::jsonb) as r(${spec.types})`,
      [JSON.stringify(rows)]);
    let rows = 0;
    let chunk: { line: number; values: Record<string, unknown> }[] = [];
    let read = 0;  // bytes of the file read so far
    const flush = async () => {
      if (chunk.length === 0) return;
      await tx`savepoint chunk`;
      try {
        await insert(chunk.map((c) => c.values));
      } catch (error) {
        await tx`rollback to savepoint chunk`;
        // which line: the shortest prefix of the chunk that fails ends with it (each try rolled back)
        let good = 0;
        let bad = chunk.length;
        while (bad - good > 1) {
          const middle = Math.floor((good + bad) / 2);
          const failed = await insert(chunk.slice(0, middle).map((c) => c.values)).then(() => false, () => true);
          await tx`rollback to savepoint chunk`;
          if (failed) bad = middle;
          else good = middle;
        }
        throw refusal(error, chunk[bad - 1]!.line);
      }
      await tx`release savepoint chunk`;
      rows += chunk.length;
      chunk = [];
      options.onBytes?.(Math.min(read, total), total);
    };
    for await (const { line, bytes, record } of records(options.file, format)) {
      const parsed = spec.line.safeParse(record);
      if (!parsed.success) throw new ImportRefused(line, describe(parsed.error));
      chunk.push({ line, values: parsed.data as Record<string, unknown> });
      read = bytes;
      if (chunk.length === CHUNK) await flush();
    }
    await flush();
    options.onBytes?.(total, total);
    if (rows === 0) throw new ImportRefused(null, `${options.file} holds no ${options.kind}`);
    const [audit] = await tx<{ n: number }[]>`select count(*)::int as n from compliance.audit_logs where id > ${before!.n}::bigint`;
    return { kind: options.kind, file: options.file, rows, audit_rows: audit!.n };
  }) as Promise<ImportResult>;
}

/** a database error as the line it belongs to */
function refusal(error: unknown, line: number): Error {
  const pgError = error as Error & { code?: string; detail?: string };
  if (!pgError.code) return error as Error;
  return new ImportRefused(line, `${pgError.message}${pgError.detail ? ` (${pgError.detail})` : ''} [${pgError.code}]`);
}
