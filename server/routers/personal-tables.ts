/**
 * Your own tables, for the DPO: which are registered and how, and marking a column as holding no
 * personal data. Registering changes the table itself, which only its owner may do: that is SQL
 * (compliance.register_personal_table) or pgcomply tables register, never the API.
 */
import { z } from 'zod';
import { dpoProcedure, router } from '../trpc.js';

const tags = ['dpo'];
const tableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/, 'schema.table');
const columnName = z.string().regex(/^([A-Za-z_][A-Za-z0-9_$]*|\*)$/, 'a column name, or * for the whole table');

const registeredTable = z.object({
  relation: z.string(),
  subject: z.string(),
  personal_columns: z.record(z.string(), z.string()),
  erasure: z.enum(['delete', 'anonymize']),
  anonymize: z.record(z.string(), z.string().nullable()).nullable(),
  kept_basis: z.string().nullable(),
  retention_period: z.string().nullable(),
  retention_from: z.string().nullable(),
  retention_basis: z.string().nullable(),
  subject_reads: z.boolean(),
  registered_at: z.date(),
});

export const personalTablesRouter = router({
  list: dpoProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/dpo/personal-tables', tags, summary: 'Your own tables registered with pgcomply: their personal columns and data categories, what erasure does to them, their retention' } })
    .input(z.void())
    .output(z.array(registeredTable))
    .query(async ({ ctx }) => (await ctx.tx`
      select t.relation::text as relation,
             case when t.subject_via is null then t.subject_column::text
                  else format('%s -> %s.%s', t.subject_column, t.subject_via, t.subject_via_column) end as subject,
             t.personal_columns, t.erasure, t.anonymize, t.kept_basis, t.retention_period::text as retention_period,
             t.retention_from::text as retention_from, t.retention_basis, t.subject_reads, t.registered_at
        from compliance.personal_tables t order by t.relation::text`) as never),
  markNotPersonal: dpoProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/dpo/personal-tables/not-personal', tags, summary: 'Record that a column (or * for a whole table) holds no personal data, and why, so the data_map check stops naming it; audited' } })
    .input(z.strictObject({ table: tableName, column: columnName, reason: z.string().trim().min(1).max(1000) }))
    .output(z.object({ marked: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.tx`select compliance.mark_not_personal(to_regclass(${input.table}), ${input.column}, ${input.reason})`;
      return { marked: true as const };
    }),
});
