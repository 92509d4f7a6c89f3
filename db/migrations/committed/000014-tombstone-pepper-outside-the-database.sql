--! Previous: sha1:5c17c30e77e17b803367d569676a486f18805319
--! Hash: sha1:4ace2061e77de1bee939c6a2c7e6474b9fe03736
--! Message: tombstone-pepper-outside-the-database

-- The tombstone pepper leaves the database (issue #12, item 6).
--
-- A tombstone is sha256(pepper || user id), so that pgcomply recognises an erased id without
-- keeping it. With the pepper in compliance_private.settings, every dump held both halves:
-- anyone with a dump could confirm a guessed id was erased. The pepper now comes with each
-- session that needs it, in the setting compliance.tombstone_pepper (the server and setup read
-- it from TOMBSTONE_PEPPER or TOMBSTONE_PEPPER_FILE; the embedded default keeps it in
-- .data/tombstone-pepper). The database keeps only a check value per pepper, which tells a
-- wrong pepper from the right one and reveals nothing of it.
--
-- The setting holds a keyring: hex peppers separated by commas, oldest first. A tombstone is
-- the peppers applied in turn, d = sha256(p_n || ... sha256(p_1 || id)), so a rotation
-- (compliance_private.rotate_tombstone_pepper) re-hashes every tombstone under one more
-- pepper without knowing any id, and a dump plus any single leaked pepper confirms nothing.
-- With one pepper the formula is the one pgcomply used before, so existing tombstones stay
-- valid once setup has exported the old pepper (compliance_private.adopt_tombstone_pepper).

create or replace function compliance_private.tombstone_pepper_check(pepper bytea) returns bytea
  language sql
  immutable
  parallel safe
return sha256(convert_to('pgcomply tombstone pepper check', 'UTF8') || pepper);
comment on function compliance_private.tombstone_pepper_check(bytea) is
  'The check value stored for a pepper: tells the right pepper from a wrong one without revealing it.';

create table if not exists compliance_private.tombstone_peppers (
  position     smallint    not null,
  pepper_check bytea       not null,
  added_at     timestamptz not null default now(),
  constraint tombstone_peppers_pkey primary key (position),
  constraint tombstone_peppers_position_positive check (position >= 1),
  constraint tombstone_peppers_check_length check (octet_length(pepper_check) = 32)
);
comment on table compliance_private.tombstone_peppers is
  'The peppers every tombstone was hashed under, in order, as check values only (the peppers live outside the database). A session''s compliance.tombstone_pepper keyring must match them one for one.';
comment on column compliance_private.tombstone_peppers.position is 'Order in the keyring: 1 is the first pepper, each rotation adds the next.';
comment on column compliance_private.tombstone_peppers.pepper_check is 'compliance_private.tombstone_pepper_check(pepper).';
comment on column compliance_private.tombstone_peppers.added_at is 'When the pepper was adopted or rotated in.';

create or replace function compliance_private.parse_keyring(keyring text) returns bytea[]
  language plpgsql
  immutable
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_peppers bytea[] := '{}';
  v_part text;
begin
  foreach v_part in array string_to_array(keyring, ',') loop
    if v_part !~ '^[0-9a-fA-F]+$' or length(v_part) not between 64 and 256 or length(v_part) % 2 <> 0 then
      perform compliance_private.raise_error('PEPPR', 'compliance.tombstone_pepper must be hex peppers of 32 to 128 bytes, separated by commas');
    end if;
    v_peppers := v_peppers || decode(v_part, 'hex');
  end loop;
  return v_peppers;
end;
$$;
comment on function compliance_private.parse_keyring(text) is
  'The peppers of a keyring (hex, separated by commas, oldest first). Errors: PEPPR when malformed.';

create or replace function compliance_private.session_peppers(extra integer default 0) returns bytea[]
  language plpgsql
  stable
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_text text := nullif(current_setting('compliance.tombstone_pepper', true), '');
  v_peppers bytea[];
  v_known integer;
  v_mismatch integer;
begin
  if v_text is null then
    perform compliance_private.raise_error('PEPPR', 'this session has no tombstone pepper (compliance.tombstone_pepper)',
      'The server and setup pass it from TOMBSTONE_PEPPER or TOMBSTONE_PEPPER_FILE; in psql start with PGOPTIONS="-c compliance.tombstone_pepper=<keyring>". See db/README.md.');
  end if;
  v_peppers := compliance_private.parse_keyring(v_text);
  select count(*) into v_known from compliance_private.tombstone_peppers;
  if v_known = 0 then
    perform compliance_private.raise_error('PEPPR', 'this database has adopted no tombstone pepper yet',
      'Run setup (npm run setup-db), which calls compliance_private.adopt_tombstone_pepper().');
  end if;
  if cardinality(v_peppers) <> v_known + extra then
    perform compliance_private.raise_error('PEPPR',
      format('the session''s keyring has %s pepper(s); this database''s tombstones use %s', cardinality(v_peppers), v_known + extra),
      'Give every pepper, oldest first, separated by commas.');
  end if;
  select count(*) into v_mismatch from compliance_private.tombstone_peppers t
   where t.pepper_check <> compliance_private.tombstone_pepper_check(v_peppers[t.position]);
  if v_mismatch > 0 then
    perform compliance_private.raise_error('PEPPR', 'the session''s tombstone pepper is not the one this database uses',
      'Check TOMBSTONE_PEPPER / TOMBSTONE_PEPPER_FILE: a wrong pepper would let erased ids be stored again.');
  end if;
  return v_peppers;
end;
$$;
comment on function compliance_private.session_peppers(integer) is
  'The session''s tombstone keyring (compliance.tombstone_pepper), checked against compliance_private.tombstone_peppers; extra => 1 admits one new pepper during a rotation. Errors: PEPPR when it is missing, malformed or wrong.';

create or replace function compliance_private.subject_digest(user_id text) returns bytea
  language plpgsql
  stable
  security definer
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_digest bytea := convert_to(user_id, 'UTF8');
  v_pepper bytea;
begin
  foreach v_pepper in array compliance_private.session_peppers() loop
    v_digest := sha256(v_pepper || v_digest);
  end loop;
  return v_digest;
end;
$$;
comment on function compliance_private.subject_digest(text) is
  'Peppered hash of a user id (the session''s keyring applied in turn): lets pgcomply recognise an erased subject without keeping the id. Owner only. Errors: PEPPR.';

create or replace function compliance_private.adopt_tombstone_pepper() returns text
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_legacy bytea;
  v_tombstones bigint;
  v_text text := nullif(current_setting('compliance.tombstone_pepper', true), '');
  v_peppers bytea[];
  v_position smallint := 0;
begin
  if exists (select from compliance_private.tombstone_peppers) then
    perform compliance_private.session_peppers();
    return 'the session''s keyring matches';
  end if;
  if v_text is null then
    perform compliance_private.raise_error('PEPPR', 'adopting a tombstone pepper needs compliance.tombstone_pepper set to hex peppers');
  end if;
  v_peppers := compliance_private.parse_keyring(v_text);
  select s.value into v_legacy from compliance_private.settings s where s.key = 'subject_pepper';
  select count(*) into v_tombstones from compliance_private.erased_subjects;
  if v_tombstones > 0 and v_peppers is distinct from array[v_legacy] then
    perform compliance_private.raise_error('PEPPR',
      format('%s tombstone(s) were made with the pepper stored in this database; the session must bring exactly that pepper', v_tombstones),
      'Setup exports it to TOMBSTONE_PEPPER_FILE (or .data/tombstone-pepper) when that file does not exist yet.');
  end if;
  for v_position in 1 .. cardinality(v_peppers) loop
    insert into compliance_private.tombstone_peppers (position, pepper_check)
      values (v_position, compliance_private.tombstone_pepper_check(v_peppers[v_position]));
  end loop;
  delete from compliance_private.settings s where s.key = 'subject_pepper';
  perform compliance_private.append_audit('tombstone.pepper_adopted', 'security', 'tombstone_pepper', null,
    jsonb_build_object('peppers', cardinality(v_peppers), 'tombstones', v_tombstones, 'removed_from_database', v_legacy is not null));
  return format('adopted %s pepper(s)', cardinality(v_peppers));
end;
$$;
comment on function compliance_private.adopt_tombstone_pepper() is
  'Setup step, owner only: records check values for the session''s tombstone keyring and removes the pepper older versions kept in compliance_private.settings (refusing if existing tombstones need that pepper and the session brought another). Idempotent: afterwards it only checks the keyring. Errors: PEPPR.';

create or replace function compliance_private.rotate_tombstone_pepper() returns jsonb
  language plpgsql
  volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_peppers bytea[] := compliance_private.session_peppers(1);
  v_new bytea := v_peppers[cardinality(v_peppers)];
  v_count bigint;
begin
  lock table compliance_private.erased_subjects in exclusive mode;
  update compliance_private.erased_subjects e set subject_digest = sha256(v_new || e.subject_digest);
  get diagnostics v_count = row_count;
  insert into compliance_private.tombstone_peppers (position, pepper_check)
    values (cardinality(v_peppers), compliance_private.tombstone_pepper_check(v_new));
  perform compliance_private.append_audit('tombstone.pepper_rotated', 'security', 'tombstone_pepper', null,
    jsonb_build_object('peppers', cardinality(v_peppers), 'tombstones_rehashed', v_count));
  return jsonb_build_object('peppers', cardinality(v_peppers), 'tombstones_rehashed', v_count);
end;
$$;
comment on function compliance_private.rotate_tombstone_pepper() is
  'Owner only: adds a pepper. Call it in a session whose keyring is the current one plus the new pepper at the end; every tombstone is hashed once more under the new pepper, so a dump and any single leaked pepper no longer confirm an erased id. From then on every session needs the longer keyring. Errors: PEPPR.';
