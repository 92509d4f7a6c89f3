/** The authenticated subject's own data (GDPR Art. 15-17, 20) and consent (Art. 7). */
import { z } from 'zod';
import { exportFileName, toCsv } from '../csv.js';
import * as s from '../schemas.js';
import { withHealthRecords } from '../health-records/export.js';
import { router, subjectProcedure } from '../trpc.js';
import { accessLog, healthRecordsRouter } from './health-records.js';

const tags = ['me'];

const consentRouter = router({
  set: subjectProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/users/me/consent', tags, summary: 'Grant or withdraw consent for a purpose; IP address and user agent are taken from the request' } })
    .input(s.consentInput)
    .output(z.object({ status: z.literal('consent_recorded'), record: s.consentRecord }))
    .mutation(async ({ ctx, input }) => {
      const [record] = await ctx.tx`
        select id, purpose, granted, policy_version, source, recorded_at, host(ip_address) as ip_address, user_agent
          from compliance.record_consent(${ctx.identity.subject}, ${input.consent_type}, ${input.granted}, ${input.policy_version ?? null}, 'api')`;
      return { status: 'consent_recorded' as const, record: record as z.infer<typeof s.consentRecord> };
    }),
  purposes: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/consent/purposes', tags, summary: 'The purposes consent can be asked for, with their description, legal basis and the policy version asked under now' } })
    .input(z.void())
    .output(z.object({ purposes: z.array(z.object({ purpose: z.string(), description: z.string(), legal_basis: z.string(), policy_version: z.string() })) }))
    .query(async ({ ctx }) => {
      const purposes = await ctx.tx`select purpose, description, legal_basis, policy_version from compliance.consent_purposes where active order by purpose`;
      return { purposes: purposes as never };
    }),
  list: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/consent', tags, summary: 'Current consent per purpose' } })
    .input(z.void())
    .output(z.object({ consents: z.array(s.currentConsent) }))
    .query(async ({ ctx }) => {
      const consents = await ctx.tx`select purpose, granted, policy_version, recorded_at from compliance.current_consents
                                     where user_id = ${ctx.identity.subject} order by purpose`;
      return { consents: consents as unknown as z.infer<typeof s.currentConsent>[] };
    }),
  history: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/consent/history', tags, summary: 'Every consent decision, newest first, with the request it came from' } })
    .input(z.void())
    .output(z.object({ records: z.array(s.consentRecord) }))
    .query(async ({ ctx }) => {
      const records = await ctx.tx`select id, purpose, granted, policy_version, source, recorded_at, host(ip_address) as ip_address, user_agent
                                    from compliance.consent_history(${ctx.identity.subject})`;
      return { records: records as unknown as z.infer<typeof s.consentRecord>[] };
    }),
});

const processingRouter = router({
  list: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/processing', tags, summary: 'How your data is used: each activity that uses it, its purposes and legal bases, whether it may use your data now, and where you may object (GDPR Art. 13, 21)' } })
    .input(z.void())
    .output(z.object({ restricted: z.boolean(), activities: z.array(z.object({
      activity: z.string(), name: z.string(), description: z.string(),
      purposes: z.array(z.object({ purpose: z.string(), legal_basis: z.string().nullable(), direct_marketing: z.boolean() })),
      permitted: z.boolean(), objection: z.enum(['available', 'pending', 'in_effect', 'not_applicable']), objection_limit_id: z.coerce.string().nullable(),
    })) }))
    .query(async ({ ctx }) => {
      const rows = await ctx.tx`select * from compliance.subject_processing(${ctx.identity.subject})`;
      return { restricted: rows.some((r) => r.restricted), activities: rows.map(({ restricted: _, ...row }) => row) as never };
    }),
  object: subjectProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/users/me/objections', tags, summary: 'Object to an activity (GDPR Art. 21): direct marketing stops at once; legitimate interest when the DPO decides' } })
    .input(z.strictObject({ activity: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/), notes: z.string().trim().max(2000).optional() }))
    .output(z.object({ request_id: z.coerce.string(), in_effect: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.object_to_processing(${ctx.identity.subject}, ${input.activity}, ${input.notes ?? null}) as result`;
      const result = row!.result as { request_id: number; in_effect: boolean };
      return { request_id: String(result.request_id), in_effect: result.in_effect };
    }),
  withdrawObjection: subjectProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/users/me/objections/{limit_id}/withdraw', tags, summary: 'Withdraw your own objection: the activity may use your data again as its legal basis allows' } })
    .input(z.strictObject({ limit_id: z.coerce.number().int().positive(), reason: z.string().trim().min(1).max(1000).default('withdrawn by the subject') }))
    .output(z.object({ withdrawn: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.tx`select compliance.lift_processing_limit(${input.limit_id}, ${input.reason})`;
      return { withdrawn: true as const };
    }),
});

export const meRouter = router({
  profile: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me', tags, summary: 'The subject\'s profile' } })
    .input(z.void())
    .output(s.profile)
    .query(async ({ ctx }) => {
      const [profile] = await ctx.tx`select * from compliance.user_profiles where user_id = ${ctx.identity.subject}`;
      return profile as z.infer<typeof s.profile>;
    }),
  updateProfile: subjectProcedure
    .meta({ openapi: { method: 'PATCH', path: '/v1/users/me', tags, summary: 'Rectify the profile (GDPR Art. 16); old and new values are audited' } })
    .input(s.profilePatch)
    .output(s.profile)
    .mutation(async ({ ctx, input }) => {
      const [profile] = await ctx.tx`select * from compliance.update_profile(${ctx.identity.subject}, ${ctx.tx.json(input as never)})`;
      return profile as z.infer<typeof s.profile>;
    }),
  preferences: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/preferences', tags, summary: 'The subject\'s preferences' } })
    .input(z.void())
    .output(s.document)
    .query(async ({ ctx }) => {
      const [row] = await ctx.tx`select preferences from compliance.user_preferences where user_id = ${ctx.identity.subject}`;
      return (row?.preferences ?? {}) as Record<string, unknown>;
    }),
  setPreferences: subjectProcedure
    .meta({ openapi: { method: 'PUT', path: '/v1/users/me/preferences', tags, summary: 'Set preferences: merged into the stored ones (merge=true, the default) or replacing them' } })
    .input(z.strictObject({ preferences: s.jsonObject, merge: s.strictBoolean().default(true) }))
    .output(s.document)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select preferences from compliance.set_preferences(${ctx.identity.subject}, ${ctx.tx.json(input.preferences as never)}, ${input.merge})`;
      return row!.preferences as Record<string, unknown>;
    }),
  conversations: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/conversations', tags, summary: 'The subject\'s conversations, most recent first' } })
    .input(z.void())
    .output(z.array(s.conversation))
    .query(async ({ ctx }) => {
      const rows = await ctx.tx`select * from compliance.list_conversations(${ctx.identity.subject})`;
      return rows as unknown as z.infer<typeof s.conversation>[];
    }),
  conversationMessages: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/conversations/{conversation_id}/messages', tags,
      summary: 'The messages of one of your conversations, oldest first, a page at a time (after_id: the last id of the previous page)' } })
    .input(z.strictObject({
      conversation_id: z.uuid(),
      after_id: z.coerce.number().int().min(0).default(0),
      page_size: z.coerce.number().int().min(1).max(1000).default(100),
    }))
    .output(z.array(s.message.omit({ conversation_id: true })))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.tx`select * from compliance.conversation_messages(${input.conversation_id}, ${input.after_id}, ${input.page_size})`;
      return rows as unknown as z.infer<typeof s.message>[];
    }),
  startConversation: subjectProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/users/me/conversations', tags, summary: 'Start a conversation' } })
    .input(z.strictObject({ title: z.string().max(512).optional(), metadata: s.jsonObject.optional() }))
    .output(s.conversation)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select * from compliance.start_conversation(${ctx.identity.subject}, ${input.title ?? null}, ${ctx.tx.json((input.metadata ?? {}) as never)})`;
      return row as z.infer<typeof s.conversation>;
    }),
  addMessage: subjectProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/users/me/conversations/{conversation_id}/messages', tags, summary: 'Add a message to one of your conversations' } })
    .input(z.strictObject({ conversation_id: z.uuid(), role: z.enum(['user', 'assistant', 'system', 'tool']), content: z.string().min(1).max(100_000) }))
    .output(s.message)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select * from compliance.add_message(${input.conversation_id}, ${input.role}, ${input.content})`;
      return row as z.infer<typeof s.message>;
    }),
  data: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/data', tags, summary: 'Everything held about the subject (GDPR Art. 15)' } })
    .input(z.void())
    .output(s.subjectDocument)
    .query(async ({ ctx }) => {
      const [row] = await ctx.tx`select compliance.export_my_data('access') as document`;
      return withHealthRecords(ctx, ctx.identity.subject, row!.document as Record<string, unknown>) as Promise<z.infer<typeof s.subjectDocument>>;
    }),
  export: subjectProcedure
    .meta({ openapi: { method: 'GET', path: '/v1/users/me/export', tags, summary: 'Portable export as JSON or CSV (GDPR Art. 20); served as an attachment' } })
    .input(z.strictObject({ format: s.exportFormat.default('json') }))
    .output(z.object({ format: s.exportFormat, filename: z.string(), content: z.union([s.document, z.string()]) }))
    .query(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.export_my_data('portability') as document`;
      const document = await withHealthRecords(ctx, ctx.identity.subject, row!.document as Record<string, unknown>);
      return input.format === 'csv'
        ? { format: 'csv' as const, filename: exportFileName(ctx.identity.subject, 'csv'), content: toCsv(document) }
        : { format: 'json' as const, filename: exportFileName(ctx.identity.subject, 'json'), content: document };
    }),
  erase: subjectProcedure
    .meta({ openapi: { method: 'DELETE', path: '/v1/users/me', tags, summary: 'Erase the account and all its data (GDPR Art. 17); needs confirm=true' } })
    .input(s.erasureInput)
    .output(z.object({ message: z.string(), receipt: s.erasureReceipt }))
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.tx`select compliance.erase_my_data(${input.reason}, ${input.confirm}) as receipt`;
      ctx.dataKeys.forget(ctx.identity.subject);
      return { message: 'Account deleted successfully', receipt: row!.receipt as z.infer<typeof s.erasureReceipt> };
    }),
  signOut: subjectProcedure
    .meta({ openapi: { method: 'POST', path: '/v1/users/me/session/close', tags, summary: 'Sign out: the token\'s session is closed, and every later request with it is refused (SESXP)' } })
    .input(z.void())
    .output(z.object({ closed: z.boolean() }))
    .mutation(async ({ ctx }) => {
      const [row] = await ctx.tx`select compliance.close_session(${ctx.identity.subject}, ${ctx.identity.sessionId}::uuid) as closed`;
      return { closed: row?.closed === true };
    }),
  consent: consentRouter,
  processing: processingRouter,
  health: healthRecordsRouter,
  accessLog,
});
