--! Previous: sha1:e663988437e5ff1342f029bd5503e824d251ae4f
--! Hash: sha1:7f11145b334beb3d7c0a6c547a809baf3ad3aa44
--! Message: seals-refuse-updates-in-erasure

-- The seals admit no UPDATE, even inside an erasure. tg_audit_logs__refuse_change admitted an
-- UPDATE inside an erasure on every relation it guards, audit_seals included, where no
-- redaction exists and no row check follows (the redaction check is a trigger of audit_logs
-- only). Now only the audit log's own relations admit it.

create or replace function compliance_private.tg_audit_logs__refuse_change() returns trigger
  language plpgsql
  volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and tg_relid <> 'compliance.audit_seals'::regclass
     and compliance_private.in_bulk_operation('erasure') then
    return null;  -- each changed row is then checked by tg_audit_logs__only_redaction
  end if;
  perform compliance_private.raise_error('APPND',
    format('%s on %s is refused: the audit log is append-only', tg_op, tg_table_name),
    'Audit rows are never changed or removed. Erasure redacts personal fields through compliance.erase_subject; retention drops audit partitions through compliance.apply_retention.');
  return null;
end;
$$;
comment on function compliance_private.tg_audit_logs__refuse_change() is
  'BEFORE UPDATE/DELETE/TRUNCATE statement trigger on audit_logs, its partitions and audit_seals: refuses every change (APPND) for every role, the owner included, except an UPDATE of audit rows inside an erasure, whose rows tg_audit_logs__only_redaction then checks one by one.';
