--! Previous: sha1:419962b4ef5747a31f43862006750bee3c4d79ee
--! Hash: sha1:d5c99c0aa4143bdbd072f5eebef11bdf0df56b41
--! Message: words-that-match-the-code

-- Words that match the code (issue #15): comments that claimed more than the schema does.

comment on table compliance.user_profiles is
  'One row per data subject. Personal data (GDPR Art. 4(1)); kept until erasure (compliance.erase_subject). The personal tables (preferences, consent records, conversations, messages, sessions, legal holds) reference it with ON DELETE CASCADE; dsr_requests keeps its register rows with the subject set to NULL (ON DELETE SET NULL); audit_logs has no foreign key: erasure redacts its personal parts instead.';
comment on table compliance.legal_holds is
  'Legal holds (GDPR Art. 17(3)(e)): while a hold is active (released_at is NULL), erasure and deleting the profile are refused (LHOLD), retention skips the subject''s rows, and an expired audit month holding rows about or by the subject is kept (audit.partition_kept). One active hold per subject.';
comment on function compliance.apply_retention(text, integer, boolean) is
  'Applies one category''s retention policy as of compliance_private.retention_now() (the database clock; only the owner can move it, for tests): deletes at most batch_size due rows, each checked again as it is deleted (conversations take their messages), or drops the expired audit partitions and removes the seals of their rows; subjects under legal hold are skipped, and an audit month holding a held subject''s rows is kept. dry_run deletes nothing and reports how many rows are due in total. Each call writes one retention.applied audit row with the counts. Returns {category, dry_run, cutoff, deleted, ...}; call again while deleted = batch_size. Errors: RETCT unknown category, BADRG.';
