--! Previous: sha1:d5c99c0aa4143bdbd072f5eebef11bdf0df56b41
--! Hash: sha1:c5caf0f9be135b07d32c7ee534374e12ff295d98
--! Message: comments-for-layout-2

-- Comments that caught up with audit layout 2 and the promises of issue #15.

comment on function compliance.erase_subject(text, text, boolean) is
  'DPO: erases a subject (GDPR Art. 17) in one transaction or not at all: locks the subject, deletes every personal row (profile, preferences, consents, conversations, messages, sessions, released holds), strips identity from its requests and from the legal holds it placed or released, removes its part of the audit rows about it and the actor''s part where it acted (listing those rows in the subject.erased row, which carries counts and no identity), and leaves a tombstone so later writes for the id fail (ERASD). Returns a receipt with counts per table. Errors: CONFM without confirm => true, LHOLD under legal hold, UNKSJ unknown subject, ERASD already erased, BADRG without a reason.';

comment on table compliance.audit_logs is
  'Append-only, tamper-evident audit trail (HIPAA §164.312(b), SOC 2 CC6.6/CC7.2, GDPR Art. 5(2)); kept 7 years, dropped a monthly partition at a time (a month holding rows of a subject under legal hold is kept). Each row has a non-personal part (covered by the seal hashes) and a personal part covered only through personal_digest: layout 2 splits it into the subject''s (user_id, personal_details) and the actor''s (actor_id, ip_address, user_agent), each with its own salt and digest, so erasure removes one without the other and the chain still verifies (db/AUDIT_HASHING.md). details and resource_id never name anyone (PERSD). UPDATE, DELETE and TRUNCATE are refused for every role (APPND). No role but the owner may INSERT: rows are written by compliance.log_event (through append_audit, which checks the row rules) and by the row triggers on personal tables. No CHECK constraint: PostgreSQL would parse it again at every audited write.';

comment on view compliance_private.audit_log_checks is
  'Each audit row''s hash (what a seal covers), what is wrong with its personal part (digest_mismatch: a part no longer matches its digest; redacted_not_empty: a redacted part still holds data; NULL: nothing), and which parts are redacted (layout 1: both or neither). The sealer and the verifier read it by id ranges (layout-2 seals) or (xact_id, id) ranges (layout-1 seals) so an index is used.';
