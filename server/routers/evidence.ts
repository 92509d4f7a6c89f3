/** SOC 2 evidence for the DPO and the auditor: packages of populations with a hashed manifest, and reproducible samples. */
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { ANCHOR_DIGEST_QUERY, ANCHOR_JOURNAL_QUERY, toAnchorState } from '../../core/anchors/anchors.js';
import { buildEvidencePackage } from '../evidence/package.js';
import * as s from '../schemas.js';
import { instant } from '../schemas.js';
import { reviewerProcedure, router } from '../trpc.js';

const tags = ['evidence'];
const period = { from: instant, to: instant };
const populationName = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/);

export const evidenceRouter = router({
  package: reviewerProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/evidence/packages', tags,
      summary: 'Produce the evidence populations of a period [from, to) as CSVs with a manifest (controls, query, time, database, schema version, row count, SHA-256 each); the manifest\'s hash goes into the audit chain' } })
    .input(z.strictObject(period))
    .output(z.object({ package_id: z.string(), manifest_sha256: z.string(), manifest: s.document, csv: z.record(z.string(), z.string()) }))
    .mutation(({ ctx, input }) => buildEvidencePackage(ctx.tx, input.from, input.to)),
  population: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/evidence/{population}', tags, summary: 'One whole population of a period [from, to), as its stored query returns it: where each figure of a report came from' } })
    .input(z.strictObject({ population: populationName, ...period }))
    .output(z.object({ population: z.string(), rows: z.array(s.document) }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.tx<{ row: Record<string, unknown> }[]>`
        select r as row from compliance.evidence_population(${input.population}, ${input.from}, ${input.to}) r`;
      return { population: input.population, rows: rows.map((r) => r.row) };
    }),
  anchorState: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/anchors/state', tags, summary: 'What an anchor records: the newest seal and the erasures (peppered digests) after since; the caller signs it outside the database' } })
    .input(z.strictObject({ since: z.iso.datetime({ offset: true }).optional().describe('only erasures after this instant (ISO 8601)') }))
    .output(z.object({ database: z.string(), seal_no: z.string(), seal_hash: z.string(), last_row_id: z.string(), sealed_at: z.string(),
      erasures: z.array(z.object({ subject_digest: z.string(), erased_at: z.string() })) }))
    .query(async ({ ctx, input }) => {
      const [digest] = await ctx.tx.unsafe(ANCHOR_DIGEST_QUERY);
      if (!digest) throw new TRPCError({ code: 'NOT_FOUND', message: 'nothing is sealed yet: there is no seal to anchor' });
      const erasures = await ctx.tx.unsafe<{ subject_digest: string; erased_at: Date }[]>(ANCHOR_JOURNAL_QUERY, [input.since ?? null]);
      return toAnchorState(digest.database, digest as never, erasures);
    }),
  recordAnchor: reviewerProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/anchors', tags, summary: 'Record in the audit chain that an anchor of this seal was written outside the database (pgcomply anchor does)' } })
    .input(z.strictObject({ seal_no: z.coerce.number().int().positive(), seal_hash: z.string().regex(/^[0-9a-f]{64}$/),
      key_fingerprint: z.string().regex(/^[0-9a-f]{64}$/), signature: z.string().min(1).max(200),
      signed: z.record(z.string(), z.unknown()).describe('what the signature covers, as the anchor log holds it (without the signature)'),
      destination: z.string().min(1).max(1024) }))
    .output(z.object({ audit_row_id: z.coerce.string() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.record_anchor(${input.seal_no}, ${input.seal_hash}, ${input.key_fingerprint}, ${input.signature},
        ${JSON.stringify(input.signed)}::text::jsonb, ${input.destination}) as id`;
      return { audit_row_id: String(row!.id) };
    }),
  lastAnchor: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/anchors/last', tags, summary: 'The newest anchor the chain records: when, which seal, which key, where; null when none was written' } })
    .input(z.void())
    .output(z.object({ anchored_at: z.date(), seal_no: z.coerce.string(), seal_hash: z.string(), key_id: z.string(), destination: z.string(), seals_since: z.coerce.number() }).nullable())
    .query(async ({ ctx }) => {
      const [row] = await ctx.tx`select * from compliance.last_anchor()`;
      return row?.seal_no === null || row === undefined ? null : (row as never);
    }),
  sample: reviewerProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/evidence/{population}/sample', tags, summary: 'A reproducible sample of a population: the same seed draws the same rows' } })
    .input(z.strictObject({ population: populationName, ...period, size: z.coerce.number().int().min(1).max(1000).default(25), seed: z.string().min(1).max(200) }))
    .output(z.object({ population: z.string(), seed: z.string(), rows: z.array(s.document) }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.tx<{ row: Record<string, unknown> }[]>`
        select r as row from compliance.evidence_sample(${input.population}, ${input.from}, ${input.to}, ${input.size}, ${input.seed}) r`;
      return { population: input.population, seed: input.seed, rows: rows.map((r) => r.row) };
    }),
});
