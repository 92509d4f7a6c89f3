--! Previous: sha1:55ff4e1e36720de2ed038a44e7126f00fc42541a
--! Hash: sha1:5757c77f85e0c7eecb0442f5342bd4d3d6051a71
--! Message: evidence-populations

-- SOC 2 evidence populations (issue #20, first part): each population is a stored query over a
-- period, with the controls it serves; a package of them is recorded with its manifest, whose
-- SHA-256 goes into the audit chain; a sample is drawn reproducibly from a seed. Populations carry
-- no names: ids, kinds, times and counts, as an auditor's sample needs.

create table compliance.evidence_populations (
  name        text   not null,
  controls    text[] not null,
  description text   not null,
  query       text   not null,
  constraint evidence_populations_pkey primary key (name),
  constraint evidence_populations_name_format check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint evidence_populations_has_controls check (cardinality(controls) > 0)
);
comment on table compliance.evidence_populations is
  'The evidence populations an auditor can ask for: each a query over a period ($1 from, $2 to, half-open) that returns one row per item, with no personal data, and the controls it serves. Only the owner (a migration) changes them.';
comment on column compliance.evidence_populations.name is 'The population''s name (dsr_requests, phi_accesses, …).';
comment on column compliance.evidence_populations.controls is 'The controls and articles it is evidence for.';
comment on column compliance.evidence_populations.description is 'What one row is.';
comment on column compliance.evidence_populations.query is 'The query text, recorded in every manifest: $1 is the period''s start (inclusive), $2 its end (exclusive).';
grant select on compliance.evidence_populations to compliance_dpo, compliance_auditor;

insert into compliance.evidence_populations (name, controls, description, query) values
  ('dsr_requests', '{GDPR Art. 12(3),GDPR Art. 15,GDPR Art. 17,GDPR Art. 20}', 'A data subject request received in the period, with its deadline and completion.',
   'select r.id, r.kind, r.status, r.received_at, r.due_at, r.completed_at, r.completed_at > r.due_at as late from compliance.dsr_requests r where r.received_at >= $1 and r.received_at < $2 order by r.id'),
  ('erasures', '{GDPR Art. 17,SOC 2 C1.2}', 'An erasure in the period, with its counts (never who).',
   'select a.id as audit_row_id, a.occurred_at, a.details -> ''deleted'' as deleted, a.details ->> ''audit_rows_redacted'' as audit_rows_redacted, a.details ->> ''requested_by'' as requested_by from compliance.audit_logs a where a.action = ''subject.erased'' and a.occurred_at >= $1 and a.occurred_at < $2 order by a.id'),
  ('consent_changes', '{GDPR Art. 7}', 'A consent given or withdrawn in the period.',
   'select c.id, c.purpose, c.granted, c.policy_version, c.source, c.recorded_at from compliance.consent_records c where c.recorded_at >= $1 and c.recorded_at < $2 order by c.id'),
  ('retention_runs', '{GDPR Art. 5(1)(e),SOC 2 PI1.4}', 'A retention batch or partition drop in the period, with its counts.',
   'select a.id as audit_row_id, a.occurred_at, a.resource_id as category, a.details ->> ''deleted'' as deleted, a.details ->> ''dry_run'' as dry_run from compliance.audit_logs a where a.action = ''retention.applied'' and a.occurred_at >= $1 and a.occurred_at < $2 order by a.id'),
  ('access_grants', '{SOC 2 CC6.2,SOC 2 CC6.3,HIPAA §164.312(a)(2)(ii)}', 'A workforce access grant requested in the period, with its decision, expiry and, for an emergency, its review.',
   'select g.id, g.kind, g.scope, g.purpose, g.requested_at, g.approved_at, g.denied_at, g.starts_at, g.expires_at, g.revoked_at, g.review_due_at, g.reviewed_at, g.review_outcome from compliance.access_grants g where g.requested_at >= $1 and g.requested_at < $2 order by g.id'),
  ('phi_accesses', '{HIPAA §164.312(b),HIPAA §164.308(a)(1)(ii)(D)}', 'An access to health records in the period, granted or refused.',
   'select a.id as audit_row_id, a.occurred_at, a.action, a.outcome, a.failure_reason, a.details ->> ''actor_role'' as actor_role, a.details ->> ''purpose'' as purpose, a.details ->> ''grant_kind'' as grant_kind from compliance.audit_logs a where a.action in (''phi.read'', ''phi.created'', ''phi.updated'', ''phi.deleted'', ''phi.denied'', ''phi.integrity_failure'') and a.occurred_at >= $1 and a.occurred_at < $2 order by a.id'),
  ('role_memberships', '{SOC 2 CC6.1,SOC 2 CC6.2}', 'A login and a pgcomply role it may act as, now (from the catalog), and every grant change the period''s migrations recorded.',
   'select m.rolname as login, g.rolname as role, m.rolcanlogin as can_login, m.rolbypassrls as bypassrls from pg_catalog.pg_auth_members am join pg_catalog.pg_roles g on g.oid = am.roleid join pg_catalog.pg_roles m on m.oid = am.member where g.rolname like ''compliance\_%'' and $1 <= $2 order by m.rolname, g.rolname'),
  ('verification_results', '{SOC 2 CC7.2,GDPR Art. 5(2)}', 'A compliance check result of a run in the period, the audit chain''s among them.',
   'select r.id as run_id, r.started_at, r.trigger, c.check_name, c.status, c.detail from compliance.check_runs r join compliance.check_results c on c.run_id = r.id where r.started_at >= $1 and r.started_at < $2 order by r.id, c.check_name'),
  ('breaches', '{GDPR Art. 33,GDPR Art. 34,HIPAA §164.404-408}', 'A breach discovered in the period, with its notifications.',
   'select b.id, b.discovered_at, b.status, b.affected_count, b.data_categories, b.notified_authority_at, b.notified_individuals_at, b.notified_hhs_at, b.notified_media_at, b.closed_at from compliance.breaches b where b.discovered_at >= $1 and b.discovered_at < $2 order by b.id');

-- forced only now: the rows above are the migration's
alter table compliance.evidence_populations enable row level security;
alter table compliance.evidence_populations force row level security;

create table compliance.evidence_packages (
  id              bigint      generated always as identity,
  generated_at    timestamptz not null default now(),
  generated_by    text,
  period_from     timestamptz not null,
  period_to       timestamptz not null,
  manifest        jsonb       not null,
  manifest_sha256 text        not null,
  constraint evidence_packages_pkey primary key (id),
  constraint evidence_packages_period_ordered check (period_from < period_to),
  constraint evidence_packages_manifest_hash check (manifest_sha256 = encode(sha256(convert_to(manifest::text, 'UTF8')), 'hex'))
);
comment on table compliance.evidence_packages is
  'Each evidence package produced: its period and manifest (per population: name, controls, query, generated_at, database, schema version, row count, the CSV''s SHA-256). The manifest''s SHA-256 is also in the audit chain (evidence.package_generated), so a package altered afterwards no longer matches.';
comment on column compliance.evidence_packages.id is 'The package.';
comment on column compliance.evidence_packages.generated_at is 'When it was produced.';
comment on column compliance.evidence_packages.generated_by is 'Who produced it; emptied when that person is erased.';
comment on column compliance.evidence_packages.period_from is 'The period''s start (inclusive).';
comment on column compliance.evidence_packages.period_to is 'The period''s end (exclusive).';
comment on column compliance.evidence_packages.manifest is 'The manifest: {"populations": [...]} as the server built it.';
comment on column compliance.evidence_packages.manifest_sha256 is 'SHA-256 (hex) of the manifest''s text as stored.';
comment on sequence compliance.evidence_packages_id_seq is 'Numbers evidence packages in order.';
alter table compliance.evidence_packages enable row level security;
alter table compliance.evidence_packages force row level security;
grant select on compliance.evidence_packages to compliance_dpo, compliance_auditor;

-- included from fixtures/evidence/schema_version.sql
-- compliance.schema_version(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.schema_version()
 RETURNS text
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select m.filename from graphile_migrate.migrations m order by m.date desc, m.filename desc limit 1;
$function$;

comment on function compliance.schema_version() is
  'The newest migration applied (its file name, e.g. 000033.sql): the schema version an evidence manifest records.';

-- included from fixtures/evidence/evidence_population.sql
-- compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone)
 RETURNS SETOF jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_query text;
begin
  select p.query into v_query from compliance.evidence_populations p where p.name = evidence_population.name;
  if not found then
    perform compliance_private.raise_error('BADRG', format('unknown evidence population %L; known: %s', name,
      (select string_agg(p.name, ', ' order by p.name) from compliance.evidence_populations p)));
  end if;
  if period_from is null or period_to is null or period_from >= period_to then
    perform compliance_private.raise_error('BADRG', 'the period needs a start before its end');
  end if;
  -- the stored query is the owner's (a migration's), never the caller's
  return query execute format('select to_jsonb(x) from (%s) x', v_query) using period_from, period_to;
end;
$function$;

comment on function compliance.evidence_population(name text, period_from timestamp with time zone, period_to timestamp with time zone) is
  'One evidence population over [period_from, period_to): its rows as JSON, in the order its query gives, with no personal data. The query is the one compliance.evidence_populations records, so the manifest can quote it. For the DPO and the auditor. Errors: BADRG (unknown population, the valid ones listed; a period that ends before it starts).';

-- included from fixtures/evidence/evidence_sample.sql
-- compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text)
 RETURNS SETOF jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  -- each row ranked by a hash of the seed and the row itself: the same seed over the same
  -- population draws the same sample, and an auditor can redraw it
  select r from compliance.evidence_population(evidence_sample.name, evidence_sample.period_from, evidence_sample.period_to) r
   order by md5(evidence_sample.seed || r::text), r::text
   limit greatest(evidence_sample.size, 0);
$function$;

comment on function compliance.evidence_sample(name text, period_from timestamp with time zone, period_to timestamp with time zone, size integer, seed text) is
  'A sample of size rows from an evidence population, drawn by the seed (record the seed with the sample): the same seed over the same population always gives the same rows. For the DPO and the auditor.';

-- included from fixtures/evidence/record_evidence_package.sql
-- compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb)
 RETURNS compliance.evidence_packages
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_row compliance.evidence_packages;
begin
  if manifest is null or jsonb_typeof(manifest -> 'populations') <> 'array' then
    perform compliance_private.raise_error('BADRG', 'the manifest needs a populations array');
  end if;
  insert into compliance.evidence_packages as p (generated_by, period_from, period_to, manifest, manifest_sha256)
  values (compliance.current_actor(), record_evidence_package.period_from, record_evidence_package.period_to, manifest,
          encode(sha256(convert_to(manifest::text, 'UTF8')), 'hex'))
  returning p.* into v_row;
  perform compliance_private.append_audit('evidence.package_generated', 'soc2', 'evidence_package', v_row.id::text,
    jsonb_build_object('period_from', v_row.period_from, 'period_to', v_row.period_to, 'manifest_sha256', v_row.manifest_sha256,
      'populations', (select jsonb_agg(jsonb_build_object('name', e ->> 'name', 'rows', e -> 'rows', 'sha256', e ->> 'sha256'))
                        from jsonb_array_elements(manifest -> 'populations') e)));
  return v_row;
end;
$function$;

comment on function compliance.record_evidence_package(period_from timestamp with time zone, period_to timestamp with time zone, manifest jsonb) is
  'Records an evidence package the server assembled: stores its manifest with the manifest''s SHA-256 and writes that hash, with each population''s row count and CSV hash, into the audit chain (evidence.package_generated). For the DPO and the auditor. Errors: BADRG.';

-- included from fixtures/access/evidence_populations.owner_routines.sql
-- policy owner_routines on compliance.evidence_populations: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.evidence_populations;
create policy owner_routines on compliance.evidence_populations as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.evidence_populations is 'The evidence functions (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/evidence_populations.readers.sql
-- policy readers on compliance.evidence_populations: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.evidence_populations;
create policy readers on compliance.evidence_populations as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.evidence_populations is 'The DPO and auditors read every row; only the owner and the evidence functions write.';

-- included from fixtures/access/evidence_packages.owner_routines.sql
-- policy owner_routines on compliance.evidence_packages: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.evidence_packages;
create policy owner_routines on compliance.evidence_packages as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.evidence_packages is 'The evidence functions (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/access/evidence_packages.readers.sql
-- policy readers on compliance.evidence_packages: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.evidence_packages;
create policy readers on compliance.evidence_packages as permissive for select to compliance_dpo, compliance_auditor
  using (true);
comment on policy readers on compliance.evidence_packages is 'The DPO and auditors read every row; only the owner and the evidence functions write.';

revoke all on function compliance.schema_version(), compliance.evidence_population(text, timestamptz, timestamptz), compliance.evidence_sample(text, timestamptz, timestamptz, integer, text),
  compliance.record_evidence_package(timestamptz, timestamptz, jsonb) from public;
grant execute on function compliance.schema_version(), compliance.evidence_population(text, timestamptz, timestamptz), compliance.evidence_sample(text, timestamptz, timestamptz, integer, text),
  compliance.record_evidence_package(timestamptz, timestamptz, jsonb) to compliance_dpo, compliance_auditor;

select compliance_private.record_expected_grants();
