/**
 * An evidence package for a period (SOC 2; issue #20): each population as a CSV with a manifest
 * entry (name, controls, query, generated_at, database, schema version, row count, the CSV's
 * SHA-256); the manifest is recorded in the database, its hash in the audit chain.
 */
import { createHash } from 'node:crypto';
import type { ReservedSql, TransactionSql } from 'postgres';
import { toCsvTable } from '../csv.js';

export interface ManifestEntry {
  name: string;
  controls: string[];
  query: string;
  generated_at: string;
  database: string;
  schema_version: string;
  rows: number;
  sha256: string;
}

/** where the populations were read, when not on the primary that records the package */
export interface ReadOn {
  standby: string;
  replay_lsn: string;
  primary_lsn_awaited: string;
}

export interface EvidencePackage {
  package_id: string;
  manifest_sha256: string;
  manifest: { populations: ManifestEntry[]; read_on?: ReadOn };
  csv: Record<string, string>;
}

/** each population of the period as a CSV with its manifest entry; reads only, so a hot standby serves */
export async function readEvidencePopulations(tx: ReservedSql | TransactionSql, from: Date, to: Date): Promise<{ entries: ManifestEntry[]; csv: Record<string, string> }> {
  const [where] = await tx<{ database: string; schema_version: string; now: Date }[]>`
    select current_database() as database, compliance.schema_version() as schema_version, clock_timestamp() as now`;
  const populations = await tx<{ name: string; controls: string[]; query: string }[]>`
    select name, controls, query from compliance.evidence_populations order by name`;
  const csv: Record<string, string> = {};
  const entries: ManifestEntry[] = [];
  for (const population of populations) {
    const rows = (await tx<{ row: Record<string, unknown> }[]>`
      select r as row from compliance.evidence_population(${population.name}, ${from}, ${to}) r`).map((r) => r.row);
    // the columns in a stable order: the keys of the first row as PostgreSQL's jsonb orders them
    const columns = rows[0] ? Object.keys(rows[0]) : [];
    csv[population.name] = toCsvTable(columns, rows);
    entries.push({ name: population.name, controls: population.controls, query: population.query, generated_at: where!.now.toISOString(),
      database: where!.database, schema_version: where!.schema_version, rows: rows.length,
      sha256: createHash('sha256').update(csv[population.name]!).digest('hex') });
  }
  return { entries, csv };
}

/** the manifest recorded on the primary, its hash in the audit chain */
export async function recordEvidencePackage(tx: ReservedSql | TransactionSql, from: Date, to: Date, read: { entries: ManifestEntry[]; csv: Record<string, string> },
  readOn?: ReadOn): Promise<EvidencePackage> {
  const manifest = { populations: read.entries, ...(readOn ? { read_on: readOn } : {}) };
  const [stored] = await tx<{ id: string; manifest_sha256: string }[]>`
    select id, manifest_sha256 from compliance.record_evidence_package(${from}, ${to}, ${tx.json(manifest as never)})`;
  return { package_id: String(stored!.id), manifest_sha256: stored!.manifest_sha256, manifest, csv: read.csv };
}

export async function buildEvidencePackage(tx: ReservedSql, from: Date, to: Date): Promise<EvidencePackage> {
  return recordEvidencePackage(tx, from, to, await readEvidencePopulations(tx, from, to));
}
