/** zod schemas shared by the routers: strict objects (unknown fields are rejected) with bounded sizes. */
import { z } from 'zod';
import { LIMITS } from './limits.js';

export const userId = z.string().min(1).max(256);

/**
 * A boolean input: JSON true or false only (a query string's exact words are turned into
 * booleans by server/rest/query.ts). trpc-to-openapi sets `coerce` on every plain z.boolean()
 * it finds in an input object, in place, which made "false" (or [] or {}) true for both
 * transports; it leaves a pipe alone.
 */
export const strictBoolean = () => z.boolean().pipe(z.boolean());

/**
 * An erasure's confirmation: only an explicit true confirms; anything else (a missing value,
 * "false", "TRUE", 1, []) reaches the database as false, which refuses with CONFM.
 */
export const confirmation = () => z.boolean().catch(false).pipe(z.boolean());

/** the largest request body either transport reads, before it parses anything */
export const MAX_BODY_BYTES = 256 * 1024;
export const jsonObject = z.record(z.string().max(128), z.unknown()).refine((value) => JSON.stringify(value).length <= 65_536, {
  message: 'at most 64 KiB of JSON',
});
export const document = z.record(z.string(), z.unknown());

export const profile = z.object({
  user_id: z.string(),
  username: z.string().nullable(),
  email: z.string().nullable(),
  full_name: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  created_at: z.date(),
  updated_at: z.date(),
});

export const profilePatch = z
  .strictObject({
    username: z.string().min(1).max(256).nullable().optional(),
    email: z.email().max(320).nullable().optional(),
    full_name: z.string().min(1).max(512).nullable().optional(),
    metadata: jsonObject.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, { message: 'give at least one field to change' });

export const consentType = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a consent purpose key such as analytics');

export const consentInput = z.strictObject({
  consent_type: consentType,
  granted: strictBoolean(),
  /** omitted: the version the purpose is asked under now (me.consent.purposes) */
  policy_version: z.string().min(1).max(64).optional(),
});

export const consentRecord = z.object({
  id: z.coerce.string(),
  purpose: z.string(),
  granted: z.boolean(),
  policy_version: z.string(),
  source: z.string(),
  recorded_at: z.date(),
  ip_address: z.string().nullable(),
  user_agent: z.string().nullable(),
});

export const currentConsent = z.object({
  purpose: z.string(),
  granted: z.boolean(),
  policy_version: z.string(),
  recorded_at: z.date(),
});

export const conversation = z.object({
  conversation_id: z.string(),
  title: z.string().nullable(),
  created_at: z.date(),
  last_message_at: z.date(),
  archived: z.boolean(),
  message_count: z.coerce.number().optional(),
});

export const message = z.object({
  id: z.coerce.string(),
  conversation_id: z.string(),
  role: z.string(),
  content: z.string(),
  created_at: z.date(),
});

export const erasureReason = z.string().trim().min(LIMITS.erasureReason.min).max(LIMITS.erasureReason.max);
export const erasureInput = z.strictObject({
  // anything but an explicit true is no confirmation: the database refuses with CONFM
  confirm: confirmation().default(false),
  reason: erasureReason.default('GDPR Art. 17 request by the data subject'),
});

export const exportFormat = z.enum(['json', 'csv']);

/** what an erasure did (compliance_private.erase_subject_core): rows deleted and kept per table, audit rows redacted */
export const erasureReceipt = z.looseObject({
  erased: z.literal(true),
  erased_at: z.string().describe('an ISO 8601 time'),
  dsr_request_id: z.number().describe('the erasure request in the register: the reference to quote'),
  deleted: z.record(z.string(), z.union([z.number(), z.record(z.string(), z.record(z.string(), z.number()))]))
    .describe('per table: rows deleted; *_kept and *_anonymised: rows another duty keeps, without the person; registered_tables: your own tables by name, {deleted} or {anonymized}'),
  audit_rows_redacted: z.number().describe('audit rows kept as the fact that something happened, with the personal parts removed'),
  finishing_elsewhere: z.boolean()
    .describe('on a Citus cluster, true: a second transaction, run by the worker within a minute, clears the person where they acted on other nodes (compliance.erasures_finishing_elsewhere lists it until then); false on a single node, where the erasure did all of it'),
  other_systems: z.array(z.object({ system: z.string(), name: z.string(), task_id: z.number(), state: z.string() }))
    .describe('the other systems asked to erase the subject too (GDPR Art. 17(2), 19); the request completes when each confirmed'),
});

/** the body limit of the health record routes: a record holds up to 1 MiB of JSON */
export const MAX_HEALTH_RECORD_BODY_BYTES = 2 * 1024 * 1024;
export const healthRecordData = z.record(z.string().max(128), z.unknown());
export const classification = z.enum(['confidential', 'restricted']);
export const purposeOfUse = z.enum(['treatment', 'payment', 'operations', 'emergency', 'patient_request']);
export const healthRecordCategory = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a category such as lab_result (compliance.health_record_categories)');

export const healthRecord = z.object({
  id: z.string(),
  category: z.string(),
  classification,
  recorded_by: z.string().nullable(),
  recorded_at: z.date(),
  updated_at: z.date(),
  version: z.number().int(),
  integrity: z.enum(['verified', 'failed']),
  problem: z.string().nullable(),
  version_proof: z.enum(['audit_chain', 'none']),
  version_note: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
});

export const accessLogEntry = z.object({
  id: z.coerce.string(),
  occurred_at: z.date(),
  action: z.string(),
  actor_id: z.string().nullable(),
  actor_role: z.string(),
  purpose: z.string().nullable(),
  record_ids: z.array(z.string()),
  outcome: z.string(),
  failure_reason: z.string().nullable(),
  grant_id: z.coerce.string().nullable(),
  emergency: z.boolean(),
});

export const accessLogPage = z.strictObject({
  before_id: z.coerce.number().int().positive().optional(),
  page_size: z.coerce.number().int().min(1).max(500).default(50),
  others_only: strictBoolean().default(false),
});
export const accessLogResult = z.object({ entries: z.array(accessLogEntry), next_before_id: z.string().nullable() });
/** a page of the access log, with where the next one starts when this one was full */
export const accessLogOf = (entries: readonly Record<string, unknown>[], pageSize: number): z.infer<typeof accessLogResult> => {
  const last = entries.at(-1);
  return { entries: entries as never, next_before_id: entries.length === pageSize && last ? String(last.id) : null };
};

/** a section item of an exported document: the fields a client may rely on, and whatever else the section holds */
const exportedItem = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape);
const exportedTime = z.string().describe('an ISO 8601 time');

/** everything held about a subject (compliance_private.subject_document) with their decrypted health records */
export const subjectDocument = z.looseObject({
  subject_id: z.string(),
  generated_at: exportedTime,
  // every field: a client that misspells one fails to compile
  profile: z.object({ user_id: z.string(), username: z.string().nullable(), email: z.string().nullable(), full_name: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()), created_at: exportedTime, updated_at: exportedTime }).nullable(),
  preferences: exportedItem({ preferences: z.record(z.string(), z.unknown()) }).nullable(),
  consents: z.array(exportedItem({ purpose: z.string(), granted: z.boolean(), policy_version: z.string(), recorded_at: exportedTime })),
  conversations: z.array(exportedItem({ conversation_id: z.string(), title: z.string().nullable(),
    messages: z.array(exportedItem({ role: z.string(), content: z.string() })) })),
  sessions: z.array(exportedItem({ created_at: exportedTime })),
  audit_trail: z.array(exportedItem({ occurred_at: exportedTime, action: z.string() })),
  // rows whose month is in the cold archive: their personal parts, with the bundle that holds the rest
  archived_audit_trail: z.array(exportedItem({ occurred_at: exportedTime, action: z.string(), archived_in: z.string() })),
  breach_notices: z.array(exportedItem({ discovered_at: exportedTime, description: z.string() })),
  dsr_requests: z.array(exportedItem({ kind: z.string(), status: z.string() })),
  health_records: z.array(healthRecord),
});

/** an export as a file: its name (exportFileName) and its content */
export const exportedFile = z.object({ format: z.literal('csv'), filename: z.string(), content: z.string() });

const overviewTime = z.coerce.date();
/** compliance.subject_overview: counts per section, requests and holds */
export const subjectOverview = z.object({
  user_id: z.string(),
  created_at: overviewTime,
  sections: z.record(z.string(), z.number()),
  requests: z.array(z.object({ id: z.coerce.string(), kind: z.string(), status: z.string(), received_at: overviewTime, due_at: overviewTime,
    completed_at: overviewTime.nullable(), handled_by: z.string().nullable(), notes: z.string().nullable() })),
  holds: z.array(z.object({ id: z.coerce.string(), reason: z.string(), placed_at: overviewTime, placed_by: z.string().nullable(),
    released_at: overviewTime.nullable(), released_by: z.string().nullable() })),
});

export const accessScope = z.enum(['phi.read', 'phi.write']);
export const accessGrant = z.object({
  id: z.coerce.string(),
  grantee: z.string().nullable(),
  user_id: z.string(),
  scope: z.string(),
  purpose: z.string(),
  reason: z.string(),
  kind: z.enum(['assignment', 'emergency']),
  requested_at: z.date(),
  requested_by: z.string().nullable(),
  approved_by: z.string().nullable(),
  approved_at: z.date().nullable(),
  denied_by: z.string().nullable(),
  denied_at: z.date().nullable(),
  starts_at: z.date().nullable(),
  expires_at: z.date().nullable(),
  revoked_by: z.string().nullable(),
  revoked_at: z.date().nullable(),
  review_due_at: z.date().nullable(),
  reviewed_by: z.string().nullable(),
  reviewed_at: z.date().nullable(),
  review_outcome: z.string().nullable(),
  review_note: z.string().nullable(),
});
export const grantId = z.coerce.number().int().positive();
export const grantReason = z.string().trim().min(LIMITS.grantReason.min).max(LIMITS.grantReason.max);
export const emergencyReason = z.string().trim().min(LIMITS.emergencyReason.min).max(LIMITS.emergencyReason.max);
export const grantDays = z.coerce.number().int().min(LIMITS.grantDays.min).max(LIMITS.grantDays.max);

/**
 * An instant from a client: an ISO 8601 string, or milliseconds since 1970 on tRPC. Years 1900 to
 * 9999 only: PostgreSQL cannot read the six-digit years JavaScript writes for what lies beyond.
 */
export const instant = z.coerce.date().refine((d) => !Number.isNaN(d.getTime()) && d.getUTCFullYear() >= 1900 && d.getUTCFullYear() <= 9999,
  'a date and time between the years 1900 and 9999');
