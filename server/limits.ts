/**
 * The bounds the database checks on what a caller writes, written down once. The routers'
 * schemas take them from here, so the OpenAPI document, a client generated from it and the typed
 * tRPC client refuse what the database would refuse, before a request is sent.
 * test/server/openapi-limits.test.ts sends each documented boundary, and one past it, to the
 * real database: a number here that drifts from the SQL fails it.
 */
export const LIMITS = {
  /** compliance_private.check_grant_request: a workforce access request's reason */
  grantReason: { min: 1, max: 2000 },
  /** the same check for break-glass: an approver must be able to review why */
  emergencyReason: { min: 20, max: 2000 },
  /** compliance_private.grant_duration: compliance.access_grant_settings.assignment_days_max as installed (30) */
  grantDays: { min: 1, max: 30 },
  /** compliance_private.erase_subject_core */
  erasureReason: { min: 1, max: 1000 },
  /** compliance.open_breach, compliance.update_breach */
  breachDescription: { min: 1, max: 4000 },
  /** compliance.decide_access_review_item */
  reviewNote: { min: 1, max: 2000 },
  /** compliance.find_subjects */
  subjectQuery: { min: 2, max: 320 },
} as const;
