--! Previous: sha1:82d3ab783f61b336cb1788cc7ea1fe96502bb07d
--! Hash: sha1:b8c7f12a6306f9da04f97759fea8aa848861e0c5
--! Message: The root chain: every audit chain's newest seal sealed into a Merkle root (RFC 6962), chained; a chain rewritten whole after a root named it is found (verify_audit_roots)

create table if not exists compliance.audit_roots (
  root_no bigint not null,
  heads jsonb not null,
  merkle_root bytea not null,
  previous_hash bytea not null,
  root_hash bytea not null,
  recorded_at timestamptz not null default now(),
  constraint audit_roots_pkey primary key (root_no),
  constraint audit_roots_hashes_sha256 check (octet_length(merkle_root) = 32 and octet_length(previous_hash) = 32 and octet_length(root_hash) = 32),
  constraint audit_roots_heads_array check (jsonb_typeof(heads) = 'array'),
  constraint audit_roots_number_positive check (root_no > 0)
);
comment on table compliance.audit_roots is
  'The root chain (db/AUDIT_HASHING.md, "The root chain"): each row seals the newest seal of every audit chain (one per shard on a Citus cluster) into a Merkle root, chained to the root before, the way Certificate Transparency publishes signed tree heads. Append-only; written by compliance.seal_audit_root, checked by verify_audit_roots.';
comment on column compliance.audit_roots.root_no is 'The root''s number, from 1, without gaps.';
comment on column compliance.audit_roots.heads is 'Each chain''s newest seal when the root was made, by placement: [{placement, seal_no, seal_hash (hex)}].';
comment on column compliance.audit_roots.merkle_root is 'The RFC 6962 Merkle tree hash over the heads'' leaves (compliance_private.audit_root_leaf), in placement order.';
comment on column compliance.audit_roots.previous_hash is 'The root_hash of the root before (32 zero bytes for root 1).';
comment on column compliance.audit_roots.root_hash is 'sha256("root" || previous_hash || int8(root_no) || merkle_root) (compliance_private.audit_root_hash).';
comment on column compliance.audit_roots.recorded_at is 'When the root was made.';
alter table compliance.audit_roots enable row level security;
alter table compliance.audit_roots force row level security;
-- included from fixtures/roots/audit_roots.owner_routines.sql
-- policy owner_routines on compliance.audit_roots: its current definition (db/CONVENTIONS.md).

drop policy if exists owner_routines on compliance.audit_roots;
create policy owner_routines on compliance.audit_roots as permissive for all to compliance_owner
  using (true)
  with check (true);
comment on policy owner_routines on compliance.audit_roots is 'compliance.seal_audit_root and verify_audit_roots (SECURITY DEFINER, running as the owner) reach every row.';

-- included from fixtures/roots/audit_roots.readers.sql
-- policy readers on compliance.audit_roots: its current definition (db/CONVENTIONS.md).

drop policy if exists readers on compliance.audit_roots;
create policy readers on compliance.audit_roots as permissive for select to compliance_auditor, compliance_dpo, compliance_worker
  using (true);
comment on policy readers on compliance.audit_roots is 'Auditors, the DPO and the worker read every root: none holds personal data.';

select compliance_private.protect_audit_relation('compliance.audit_roots');
grant select on compliance.audit_roots to compliance_auditor, compliance_dpo, compliance_worker;

-- included from fixtures/roots/audit_root_leaf.sql
-- compliance_private.audit_root_leaf(placement text, seal_no bigint, seal_hash bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_root_leaf(placement text, seal_no bigint, seal_hash bytea)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN sha256(((('\x00'::bytea || compliance_private.hash_field(placement)) || int8send(seal_no)) || seal_hash));

comment on function compliance_private.audit_root_leaf(placement text, seal_no bigint, seal_hash bytea) is
  'The Merkle leaf hash of one chain''s newest seal in a root (db/AUDIT_HASHING.md, "The root chain"): sha256(00 || field(placement) || int8(seal_no) || seal_hash), as RFC 6962 hashes a leaf.';

revoke execute on function compliance_private.audit_root_leaf(text, bigint, bytea) from public;
-- included from fixtures/roots/merkle_tree_hash.sql
-- compliance_private.merkle_tree_hash(leaves bytea[]): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.merkle_tree_hash(leaves bytea[])
 RETURNS bytea
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_count integer := coalesce(cardinality(leaves), 0);
  v_split integer := 1;
begin
  -- RFC 6962, 2.1: the hash of an empty tree is that of the empty string; one leaf is its own
  -- hash; otherwise the left subtree takes the largest power of two below the count
  if v_count = 0 then
    return sha256(''::bytea);
  elsif v_count = 1 then
    return leaves[1];
  end if;
  while v_split * 2 < v_count loop
    v_split := v_split * 2;
  end loop;
  return sha256('\x01'::bytea || compliance_private.merkle_tree_hash(leaves[1:v_split])
                              || compliance_private.merkle_tree_hash(leaves[v_split + 1:v_count]));
end;
$function$;

comment on function compliance_private.merkle_tree_hash(leaves bytea[]) is
  'The Merkle tree hash of leaf hashes in order, as RFC 6962 (Certificate Transparency) defines it: sha256(01 || left || right), the left subtree holding the largest power of two of leaves below their count.';

revoke execute on function compliance_private.merkle_tree_hash(bytea[]) from public;
-- included from fixtures/roots/audit_root_hash.sql
-- compliance_private.audit_root_hash(previous_hash bytea, root_no bigint, merkle_root bytea): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.audit_root_hash(previous_hash bytea, root_no bigint, merkle_root bytea)
 RETURNS bytea
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN sha256(((('\x726f6f74'::bytea || previous_hash) || int8send(root_no)) || merkle_root));

comment on function compliance_private.audit_root_hash(previous_hash bytea, root_no bigint, merkle_root bytea) is
  'The hash of a root in the root chain (db/AUDIT_HASHING.md, "The root chain"): sha256("root" || previous_hash || int8(root_no) || merkle_root).';

revoke execute on function compliance_private.audit_root_hash(bytea, bigint, bytea) from public;
-- included from fixtures/roots/seal_audit_root.sql
-- compliance.seal_audit_root(): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.seal_audit_root()
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_last compliance.audit_roots;
  v_heads jsonb;
  v_merkle bytea;
  v_no bigint;
  v_previous bytea;
begin
  -- one root maker at a time; each root follows the one before
  perform pg_advisory_xact_lock(hashtext('compliance.audit_roots'));
  select * into v_last from compliance.audit_roots r order by r.root_no desc limit 1;
  -- each chain's newest seal, by placement: what every chain has promised so far
  select coalesce(jsonb_agg(jsonb_build_object('placement', h.placement, 'seal_no', h.last_seal_no,
                                               'seal_hash', encode(h.last_hash, 'hex')) order by h.placement), '[]'),
         compliance_private.merkle_tree_hash(array_agg(compliance_private.audit_root_leaf(h.placement, h.last_seal_no, h.last_hash)
                                                       order by h.placement))
    into v_heads, v_merkle
    from compliance_private.audit_seal_head h
   where h.last_seal_no > 0;
  if v_heads = '[]' or v_heads = v_last.heads then
    return 0;  -- nothing sealed, or nothing sealed since the last root
  end if;
  v_no := coalesce(v_last.root_no, 0) + 1;
  v_previous := coalesce(v_last.root_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
  insert into compliance.audit_roots (root_no, heads, merkle_root, previous_hash, root_hash)
  values (v_no, v_heads, v_merkle, v_previous, compliance_private.audit_root_hash(v_previous, v_no, v_merkle));
  return v_no;
end;
$function$;

comment on function compliance.seal_audit_root() is
  'Seals every audit chain''s newest seal into the root chain (compliance.audit_roots), in the way Certificate Transparency publishes signed tree heads: a Merkle root over (placement, seal_no, seal_hash) of each chain, chained to the root before. A chain whose whole history was rewritten consistently (rows, seals and head) no longer matches the seal a root names (verify_audit_roots). The worker runs it after each sealing round on a Citus cluster, where there is a chain per shard. Returns the new root''s number, or 0 when nothing was sealed since the last root.';

revoke execute on function compliance.seal_audit_root() from public;
grant execute on function compliance.seal_audit_root() to compliance_worker, compliance_dpo;
-- included from fixtures/roots/verify_audit_roots.sql
-- compliance.verify_audit_roots(OUT ok boolean, OUT roots_checked bigint, OUT problems jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.verify_audit_roots(OUT ok boolean, OUT roots_checked bigint, OUT problems jsonb)
 RETURNS record
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_root compliance.audit_roots;
  v_previous bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  v_expected bigint := 1;
  v_chain record;
  v_seal record;
  v_first bigint;
  v_hashes jsonb;
begin
  roots_checked := 0;
  problems := '[]';
  -- the root chain itself: numbered without gaps, each linked to the one before, each hash and
  -- Merkle root recomputed from the heads it names
  for v_root in select * from compliance.audit_roots r order by r.root_no loop
    roots_checked := roots_checked + 1;
    if v_root.root_no <> v_expected then
      problems := problems || jsonb_build_object('kind', 'missing_root', 'root_no', v_expected,
        'detail', format('roots %s to %s are missing', v_expected, v_root.root_no - 1));
    end if;
    if v_root.previous_hash <> v_previous then
      problems := problems || jsonb_build_object('kind', 'broken_root_chain', 'root_no', v_root.root_no,
        'detail', 'previous_hash does not match the hash of the root before it');
    end if;
    if compliance_private.merkle_tree_hash(array(
         select compliance_private.audit_root_leaf(e ->> 'placement', (e ->> 'seal_no')::bigint, decode(e ->> 'seal_hash', 'hex'))
           from jsonb_array_elements(v_root.heads) with ordinality as x(e, n) order by x.n)) <> v_root.merkle_root
       or compliance_private.audit_root_hash(v_root.previous_hash, v_root.root_no, v_root.merkle_root) <> v_root.root_hash then
      problems := problems || jsonb_build_object('kind', 'altered_root', 'root_no', v_root.root_no,
        'detail', 'the root''s heads, Merkle root and hash do not agree');
    end if;
    v_previous := v_root.root_hash;
    v_expected := v_root.root_no + 1;
  end loop;

  -- every seal a root named is still in its chain with the hash it had: a chain rewritten whole,
  -- consistently from its first seal, still differs here. One read per chain.
  for v_chain in
    select e ->> 'placement' as placement,
           jsonb_object_agg(e ->> 'seal_no', jsonb_build_object('hash', e ->> 'seal_hash', 'root_no', r.root_no)) as named
      from compliance.audit_roots r cross join jsonb_array_elements(r.heads) e
     group by e ->> 'placement'
  loop
    -- read apart, then compared: on a Citus cluster each read goes to the chain's shard alone
    select min(s.seal_no) into v_first from compliance.audit_seals s where s.placement = v_chain.placement;
    select jsonb_object_agg(s.seal_no, encode(s.seal_hash, 'hex')) into v_hashes
      from compliance.audit_seals s
     where s.placement = v_chain.placement
       and s.seal_no = any (array(select k::bigint from jsonb_object_keys(v_chain.named) k));
    for v_seal in
      select n.key::bigint as seal_no, n.value ->> 'hash' as named_hash, (n.value ->> 'root_no')::bigint as root_no,
             v_hashes ->> n.key as seal_hash
        from jsonb_each(v_chain.named) n
    loop
      if v_seal.seal_hash is distinct from v_seal.named_hash and (v_seal.seal_hash is not null or v_seal.seal_no >= coalesce(v_first, 0)) then
        problems := problems || jsonb_build_object('kind', 'root_mismatch', 'root_no', v_seal.root_no, 'placement', v_chain.placement,
          'seal_no', v_seal.seal_no,
          'detail', case when v_seal.seal_hash is null then format('root %s names seal %s of chain %L, which is gone', v_seal.root_no, v_seal.seal_no, v_chain.placement)
                         else format('root %s names seal %s of chain %L with another hash: the chain was rewritten', v_seal.root_no, v_seal.seal_no, v_chain.placement) end);
      end if;
    end loop;
  end loop;
  ok := jsonb_array_length(problems) = 0;
end;
$function$;

comment on function compliance.verify_audit_roots(OUT ok boolean, OUT roots_checked bigint, OUT problems jsonb) is
  'Verifies the root chain (compliance.audit_roots): numbered without gaps, each root linked to the one before, its Merkle root and hash recomputed from the heads it names; and that every seal a root names is still in its chain with that hash. Each chain''s own rows and seals are verify_audit_log''s (per placement). Problems: missing_root, broken_root_chain, altered_root, root_mismatch (a chain rewritten after a root named it, even consistently; it names the chain and the seal).';

revoke execute on function compliance.verify_audit_roots() from public;
grant execute on function compliance.verify_audit_roots() to compliance_auditor, compliance_dpo, compliance_worker;

-- the digest anchors sign also names the newest root
drop function if exists compliance.audit_digest();
-- included from fixtures/audit/audit_digest.sql
-- compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone, OUT root_no bigint, OUT root_hash text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone, OUT root_no bigint, OUT root_hash text)
 RETURNS record
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
  select s.seal_no, encode(s.seal_hash, 'hex'), s.last_row_id, s.sealed_at, r.root_no, encode(r.root_hash, 'hex')
    from (select 1) one
    left join lateral (select s.* from compliance.audit_seals s where s.placement = '' order by s.seal_no desc limit 1) s on true
    left join lateral (select r.* from compliance.audit_roots r order by r.root_no desc limit 1) r on true;
$function$;

comment on function compliance.audit_digest(OUT seal_no bigint, OUT seal_hash text, OUT last_row_id bigint, OUT sealed_at timestamp with time zone, OUT root_no bigint, OUT root_hash text) is
  'The newest seal''s number and hash (hex) of the single node''s chain, and the newest root''s number and hash of the root chain (NULL until one is made; on a Citus cluster the root seals every shard''s chain). Record them outside the database (a ticket, a notary, a WORM bucket; pgcomply anchor signs and appends them): a rewrite of the whole chain, or of a shard''s chain and the roots after it, then shows as a different hash for the same number.';

revoke execute on function compliance.audit_digest() from public;
grant execute on function compliance.audit_digest() to compliance_auditor, compliance_dpo, compliance_worker;
-- included from fixtures/anchors/record_anchor.sql
-- compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text): its current definition.
-- Change it here and include this file in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_configured text := (select s.anchor_key_fingerprint from compliance.compliance_check_settings s);
  v_signature bytea;
begin
  if key_fingerprint is null or key_fingerprint !~ '^[0-9a-f]{64}$' or destination is null or length(destination) not between 1 and 1024
     or signed is null or jsonb_typeof(signed) <> 'object' or jsonb_typeof(signed -> 'erasures') is distinct from 'array' then
    perform compliance_private.raise_error('BADRG', 'an anchor needs the signing key''s fingerprint (64 hex), its signature, what was signed and where it was written');
  end if;
  begin
    v_signature := decode(signature, 'base64');
  exception when others then
    v_signature := null;
  end;
  if v_signature is null or length(v_signature) <> 64 then
    perform compliance_private.raise_error('BADRG', 'an anchor''s signature is 64 bytes of Ed25519, in base64');
  end if;
  -- what was signed must be this anchor: the same seal, under the key the fingerprint names
  if signed ->> 'seal_no' is distinct from record_anchor.seal_no::text or signed ->> 'seal_hash' is distinct from record_anchor.seal_hash
     or signed ->> 'key_id' is distinct from left(record_anchor.key_fingerprint, 16) then
    perform compliance_private.raise_error('BADRG', 'what was signed names another seal or another key than the anchor');
  end if;
  if v_configured is not null and v_configured <> key_fingerprint then
    perform compliance_private.raise_error('BADRG', format('the anchor is signed with key %s, not the configured anchor key %s', left(key_fingerprint, 16), left(v_configured, 16)),
      'The worker sets the configured key from ANCHOR_SIGNING_KEY (compliance.set_anchor_key).');
  end if;
  -- the single node's chain ('' on a Citus cluster too), and the root it names, if any, as they are
  if signed ? 'root_no' and not exists (select from compliance.audit_roots r
                                         where r.root_no = (signed ->> 'root_no')::bigint and encode(r.root_hash, 'hex') = signed ->> 'root_hash') then
    perform compliance_private.raise_error('BADRG', format('root %s with hash %s is not in the root chain: an anchor names a root as it is',
                                                           signed ->> 'root_no', signed ->> 'root_hash'));
  end if;
  if not exists (select from compliance.audit_seals s
                  where s.placement = '' and s.seal_no = record_anchor.seal_no and encode(s.seal_hash, 'hex') = record_anchor.seal_hash) then
    perform compliance_private.raise_error('BADRG', format('seal %s with hash %s is not in the chain: an anchor names a seal as it is', record_anchor.seal_no, record_anchor.seal_hash));
  end if;
  return compliance_private.append_audit('audit.anchored', 'soc2', 'audit_seal', record_anchor.seal_no::text,
    jsonb_build_object('seal_no', record_anchor.seal_no, 'seal_hash', record_anchor.seal_hash, 'key_id', left(record_anchor.key_fingerprint, 16),
      'key_fingerprint', record_anchor.key_fingerprint, 'signature', record_anchor.signature, 'signed', record_anchor.signed,
      'erasures', jsonb_array_length(record_anchor.signed -> 'erasures'), 'destination', record_anchor.destination,
      -- whether the login that recorded it (which SET ROLE cannot change) is the worker's: the
      -- anchors check counts only those
      'recorded_by_worker', pg_has_role(session_user, 'compliance_worker', 'member')));
end;
$function$;

comment on function compliance.record_anchor(seal_no bigint, seal_hash text, key_fingerprint text, signature text, signed jsonb, destination text) is
  'Records in the audit chain that an anchor of this seal was written outside the database (pgcomply anchor, the worker at start and hourly): the seal must be in the chain with that hash, and a root it names in the root chain with that hash; the anchor carries what was signed, the Ed25519 signature and the signing key''s fingerprint (SHA-256 of its SubjectPublicKeyInfo), which must be the configured anchor key once one is set (compliance.set_anchor_key). PostgreSQL cannot check an Ed25519 signature: pgcomply verify --anchors and pgcomply doctor check each recorded anchor''s signature against the public key. Audited as audit.anchored, with whether the worker''s login recorded it. Errors: BADRG.';

-- included from fixtures/checks/check_audit_chain.sql
-- compliance_private.check_audit_chain(context jsonb): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.check_audit_chain(context jsonb)
 RETURNS TABLE(status text, measured jsonb, threshold jsonb, detail text, evidence text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_full boolean := coalesce((context ->> 'full_verification')::boolean, false);
  v_chains text[] := array(select c from compliance.audit_chains() c);
  -- a Citus cluster's chains, one per shard, and its root chain; a single node has one chain
  v_per_shard boolean := cardinality(v_chains) > 1;
  v_chain text;
  v_sealed_end bigint;
  v_from_seal bigint;
  v_from_hash bytea;
  v_result record;
  v_roots record;
  v_roots_checked bigint;
  v_silent jsonb := '[]';
  v_checkpoints jsonb := '[]';
  -- where this check's own audit.verified rows go (its actor's chain, '' on a single node): the
  -- checkpoints are read there alone
  v_kept_in text := compliance_private.placement_of(compliance.current_actor());
  v_checkpoint jsonb;
  v_ok boolean := true;
  v_incremental boolean := true;
  v_seals bigint := 0;
  v_rows bigint := 0;
  v_unsealed bigint := 0;
  v_problems jsonb := '[]';
  v_unreachable jsonb := '[]';
  v_single_from bigint;
  v_single_hash bytea;
begin
  -- on a Citus cluster: which workers answer at all (a chain's verification also reads the
  -- accounting records every chain holds, so one silent node leaves every chain unproven)
  if v_per_shard then
    execute $q$select coalesce(jsonb_agg(w.nodename || ':' || w.nodeport order by w.nodename, w.nodeport) filter (where not w.success), '[]')
                from pg_catalog.run_command_on_workers('select 1') w$q$ into v_silent;
  end if;
  -- each chain on its own: one on a single node, one per shard on a Citus cluster, where a chain
  -- that cannot be verified fails the check by name
  foreach v_chain in array v_chains loop
    begin
      v_from_seal := null;
      v_from_hash := null;
      -- a plain read into a variable: Citus cannot plan a sub-select with a parameter in an expression
      select s.last_row_id into v_sealed_end from compliance.audit_seals s
       where s.placement = v_chain and s.layout = 2 order by s.seal_no desc limit 1;
      v_sealed_end := coalesce(v_sealed_end, 0);
      -- the checkpoint is the newest audit.verified row of this chain that is itself sealed: anchored
      if not v_full then
        select (a.details ->> 'seal_no')::bigint, decode(a.details ->> 'seal_hash', 'hex')
          into v_from_seal, v_from_hash
          from compliance.audit_logs a
         where a.placement = v_kept_in
           and a.action = 'audit.verified' and a.outcome = 'success' and coalesce(a.details ->> 'placement', '') = v_chain
           and case when a.placement = v_chain then a.id <= v_sealed_end else compliance_private.audit_row_sealed(a.placement, a.id) end
         order by a.id desc limit 1;
      end if;
      select * into v_result from compliance.verify_audit_log(v_from_seal, v_from_hash, v_chain);
    exception when others then
      if not v_per_shard then
        raise;  -- a single node's own failure is not a node that did not answer
      end if;
      v_ok := false;
      v_unreachable := v_unreachable || jsonb_build_object('placement', v_chain, 'error', sqlerrm);
      continue;
    end;
    v_ok := v_ok and v_result.ok;
    v_incremental := v_incremental and v_result.incremental;
    v_seals := v_seals + v_result.seals_checked;
    v_rows := v_rows + v_result.rows_checked;
    v_unsealed := v_unsealed + v_result.unsealed_rows;
    v_problems := v_problems || case when not v_per_shard then v_result.problems
                                     else (select coalesce(jsonb_agg(p || jsonb_build_object('placement', v_chain)), '[]')
                                             from jsonb_array_elements(v_result.problems) p) end;
    v_single_from := v_from_seal;
    v_single_hash := v_from_hash;
    -- the next run starts here; the row is sealed like any other, which anchors it
    if v_result.ok and v_result.last_seal_no > 0 then
      v_checkpoints := v_checkpoints || jsonb_build_array(
        jsonb_build_object('seal_no', v_result.last_seal_no, 'seal_hash', encode(v_result.last_seal_hash, 'hex'),
          'incremental', v_result.incremental, 'seals_checked', v_result.seals_checked, 'rows_checked', v_result.rows_checked)
        || case when v_chain = '' then '{}'::jsonb else jsonb_build_object('placement', v_chain) end);
    end if;
  end loop;
  -- with chains per shard, the root chain too
  if v_per_shard then
    begin
      select * into v_roots from compliance.verify_audit_roots();
      v_ok := v_ok and v_roots.ok;
      v_problems := v_problems || v_roots.problems;
      v_roots_checked := v_roots.roots_checked;
    exception when others then
      v_ok := false;
      v_unreachable := v_unreachable || jsonb_build_object('placement', null, 'error', sqlerrm);
    end;
  end if;

  -- written after every read: on a Citus cluster a transaction may not read, as this caller, the
  -- shards the owner's routine wrote in it
  for v_checkpoint in select c from jsonb_array_elements(v_checkpoints) c loop
    perform compliance_private.append_audit('audit.verified', 'soc2', 'audit_seal', v_checkpoint ->> 'seal_no', v_checkpoint);
  end loop;

  status := case when v_ok and v_silent = '[]' then 'pass' else 'fail' end;
  measured := jsonb_build_object('incremental', v_incremental,
    'from_seal', case when not v_per_shard and v_incremental then v_single_from end,
    'seals_checked', v_seals, 'rows_checked', v_rows, 'unsealed_rows', v_unsealed, 'problems', jsonb_array_length(v_problems),
    'first_problems', (select coalesce(jsonb_agg(p), '[]') from (select p from jsonb_array_elements(v_problems) p limit 5) x))
    || case when not v_per_shard then '{}'::jsonb
            else jsonb_build_object('chains', cardinality(v_chains), 'roots_checked', v_roots_checked, 'unreachable', v_unreachable,
                                    'nodes_not_answering', v_silent) end;
  threshold := jsonb_build_object('problems', 0)
    || case when not v_per_shard then '{}'::jsonb else jsonb_build_object('unreachable', '[]'::jsonb, 'nodes_not_answering', '[]'::jsonb) end;
  detail := case when v_ok then format('%s seals and %s rows verify%s', v_seals, v_rows,
                                       case when v_per_shard then format(' in %s chains, and %s roots', cardinality(v_chains), v_roots_checked)
                                            when v_incremental then format(' (after seal %s)', v_single_from) else ' (the whole chain)' end)
                 when jsonb_array_length(v_silent) > 0
                   then format('%s worker(s) did not answer (%s): %s chain(s) could not be verified', jsonb_array_length(v_silent),
                               (select string_agg(n, ', ') from jsonb_array_elements_text(v_silent) n), jsonb_array_length(v_unreachable))
                 when jsonb_array_length(v_unreachable) > 0
                   then format('%s chain(s) could not be verified: %s', jsonb_array_length(v_unreachable),
                               (select string_agg(coalesce(u ->> 'placement', 'the roots'), ', ') from jsonb_array_elements(v_unreachable) u))
                 else format('%s problem(s) in the audit chain', jsonb_array_length(v_problems)) end;
  evidence := case when v_per_shard
                   then 'select c, v.* from compliance.audit_chains() c, compliance.verify_audit_log(null, null, c) v; select * from compliance.verify_audit_roots()'
                   when v_incremental then format('select * from compliance.verify_audit_log(%s, %L::bytea)', v_single_from, v_single_hash)
                   else 'select * from compliance.verify_audit_log()' end;
  return next;
end;
$function$;

comment on function compliance_private.check_audit_chain(context jsonb) is
  'Compliance check: the audit chain verifies (on a Citus cluster, each shard''s chain and the root chain; a worker that does not answer fails the check, named in measured.nodes_not_answering, with the chains left unverified in measured.unreachable). Incrementally, from the newest sealed audit.verified row (the checkpoint, anchored in the chain), so the daily cost follows the day''s rows; the whole chain when context full_verification is true or no checkpoint exists. A passing run writes the next checkpoint.';

-- included from fixtures/citus/distribute_on_citus.sql
-- compliance_private.distribute_on_citus(shard_count integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE PROCEDURE compliance_private.distribute_on_citus(IN shard_count integer DEFAULT 32)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
declare
  -- a subject's rows, by the subject: one node holds them all
  v_by_subject constant text[] := array['compliance.user_profiles', 'compliance.user_preferences', 'compliance.consent_records',
    'compliance.conversations', 'compliance.messages', 'compliance.sessions', 'compliance.legal_holds',
    'compliance_private.subject_keys', 'compliance.health_records', 'compliance.breach_subjects', 'compliance.processing_limits'];
  -- records that outlive the subject's rows (erasure clears their user_id, and Citus cannot change a
  -- distribution column): by the placement of the subject's shard, so they sit on the same node;
  -- and each shard's audit chain, its seals and its sealer's head, beside the rows they seal
  v_by_placement constant text[] := array['compliance.audit_logs', 'compliance.dsr_requests', 'compliance.access_grants',
    'compliance.propagation_tasks', 'compliance.audit_seals', 'compliance_private.audit_seal_head',
    -- and what an erasure leaves behind, so that it writes on the subject's node alone
    'compliance_private.erased_subjects', 'compliance.erased_consent_proofs'];
  v_foreign_keys jsonb := '[]';
  v_key record;
  v_table text;
  v_column text;
  v_definition text;
  v_progress boolean := true;
  v_left text;
  v_refused text[] := '{}';
  v_try integer;
  v_placement text;
  v_shard record;
  v_above bigint;
begin
  if not exists (select from pg_catalog.pg_extension e where e.extname = 'citus') then
    perform compliance_private.raise_error('CITUS', 'the citus extension is not installed in this database',
      'Load citus (shared_preload_libraries), run create extension citus and add the workers first (docs/CITUS.md).');
  end if;
  -- foreign keys and distribution in one transaction: Citus must not run shard commands in parallel
  set local citus.multi_shard_modify_mode = 'sequential';
  -- the audit and refusal triggers run on the shards, on the node that holds the subject
  set local citus.enable_unsafe_triggers = on;
  if not compliance_private.is_distributed() then

    -- every foreign key goes first and comes back last, with the subject in it where both ends are
    -- distributed (Citus joins co-located rows only on the distribution column)
    select coalesce(jsonb_agg(jsonb_build_object('relation', c.conrelid::regclass::text, 'name', c.conname,
                                                 'definition', pg_catalog.pg_get_constraintdef(c.oid),
                                                 'referenced', c.confrelid::regclass::text)), '[]')
      into v_foreign_keys
      from pg_catalog.pg_constraint c
     where c.contype = 'f' and c.connamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace);
    for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
      execute format('alter table %s drop constraint %I', v_key.relation, v_key.name);
    end loop;

    -- a unique key on a distributed table holds only with the distribution column in it
    foreach v_table in array v_by_subject || v_by_placement loop
      v_column := case when v_table = any (v_by_subject) then 'user_id' else 'placement' end;
      for v_key in select c.conname, pg_catalog.pg_get_constraintdef(c.oid) as definition
                     from pg_catalog.pg_constraint c
                    where c.conrelid = v_table::regclass and c.contype in ('p', 'u')
                      and not (select a.attnum from pg_catalog.pg_attribute a
                                where a.attrelid = v_table::regclass and a.attname = v_column) = any (c.conkey) loop
        execute format('alter table %s drop constraint %I', v_table, v_key.conname);
        execute format('alter table %s add constraint %I %s', v_table, v_key.conname,
                       regexp_replace(v_key.definition, '^(PRIMARY KEY|UNIQUE) \(', format('\1 (%I, ', v_column)));
      end loop;
    end loop;
    -- one active hold per subject: already by subject, so the partial unique index stands

    -- Citus sends a shard every column of an INSERT, with the coordinator's defaults filled in, and
    -- the shard checks the role's INSERT on each: a role with INSERT on some columns of a subject's
    -- table gets it on the columns with a default too, and a trigger gives them their defaults on the
    -- shard, so the role still cannot choose when a consent was recorded
    for v_key in select c.oid::regclass::text as relation,
                        array_agg(a.attname::text order by a.attnum) as columns,
                        string_agg(format('%L, %L', a.attname,
                                          coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                                                   format('nextval(%L::regclass)', pg_catalog.pg_get_serial_sequence(c.oid::regclass::text, a.attname)))),
                                   ', ' order by a.attnum) as arguments
                   from pg_catalog.pg_class c
                   join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                   left join pg_catalog.pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
                  where c.oid::regclass::text = any (v_by_subject || v_by_placement)
                    and (d.oid is not null or a.attidentity <> '')
                    and exists (select from pg_catalog.pg_attribute o, aclexplode(o.attacl) x
                                 where o.attrelid = c.oid and x.privilege_type = 'INSERT')
                    and not exists (select from aclexplode(a.attacl) x where x.privilege_type = 'INSERT')
                  group by c.oid loop
      for v_table in select distinct x.grantee::regrole::text
                       from pg_catalog.pg_attribute o, aclexplode(o.attacl) x
                      where o.attrelid = v_key.relation::regclass and x.privilege_type = 'INSERT' loop
        execute format('grant insert (%s) on %s to %I', (select string_agg(quote_ident(c), ', ') from unnest(v_key.columns) c),
                       v_key.relation, v_table);
      end loop;
      execute format('create trigger _001_column_defaults before insert on %s for each row execute function compliance_private.tg__column_defaults(%s)',
                     v_key.relation, v_key.arguments);
    end loop;

    execute format('select pg_catalog.create_distributed_table(%L, %L, shard_count => %s)', 'compliance.user_profiles', 'user_id', shard_count);

    -- the placement keys: for each shard of the subjects' tables, a short text that hashes into its
    -- range. The range that holds hashtext('') keeps '', which every row had on a single node, so a
    -- log distributed later keeps its rows in one shard whose chain goes on.
    for v_shard in select s.shardminvalue::integer as low, s.shardmaxvalue::integer as high,
                          (row_number() over (order by s.shardminvalue::integer) - 1)::integer as chain_no
                     from pg_catalog.pg_dist_shard s where s.logicalrelid = 'compliance.user_profiles'::regclass
                    order by 1 loop
      -- '', then shard-0, shard-1, … until one hashes into the range
      v_placement := '';
      v_try := 0;
      while hashtext(v_placement) not between v_shard.low and v_shard.high loop
        v_placement := 'shard-' || v_try;
        v_try := v_try + 1;
      end loop;
      insert into compliance_private.shard_placements (hash_min, hash_max, placement, chain_no)
      values (v_shard.low, v_shard.high, v_placement, v_shard.chain_no);
    end loop;

    foreach v_table in array v_by_subject loop
      continue when v_table = 'compliance.user_profiles';
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'user_id', 'compliance.user_profiles');
    end loop;
    foreach v_table in array v_by_placement loop
      execute format('select pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)', v_table, 'placement', 'compliance.user_profiles');
    end loop;
    -- from now on each shard's rows are numbered on the node that holds it, where its chain is
    -- sealed (after the copy above: the rows already sealed keep their numbers), from a sequence of
    -- that node's past every id there is so far
    select coalesce(max(a.id), 0) into v_above from compliance.audit_logs a;
    perform compliance_private.ensure_chain_sequences(v_above);
    create trigger _001_number_on_node before insert on compliance.audit_logs
      for each row execute function compliance_private.tg_audit_logs__number_on_node();

  end if;

  -- what follows again after every migration (setup calls this each time): a migration may
  -- have replaced a routine, or added one
  -- everything else is small, read where the subject's rows are (tombstones, purposes, policies,
  -- settings, the root chain): a reference table, copied to every node, also one a later migration
  -- added. A table that refers to one not placed yet waits for the next round.
  while v_progress loop
    v_progress := false;
    v_left := null;
    for v_table in select c.oid::regclass::text from pg_catalog.pg_class c
                    where c.relnamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                      and c.relkind in ('r', 'p') and not c.relispartition
                      and not exists (select from pg_catalog.pg_dist_partition d where d.logicalrelid = c.oid)
                    order by 1 loop
      begin
        execute format('select pg_catalog.create_reference_table(%L)', v_table);
        v_progress := true;
      exception when others then
        v_left := format('%s: %s', v_table, sqlerrm);
      end;
    end loop;
  end loop;
  -- a round that placed nothing ends the loop: a table it could not place stays local
  if v_left is not null then
    perform compliance_private.raise_error('CITUS', format('a table could not be placed on the cluster: %s', v_left));
  end if;

  -- the foreign keys taken off above come back, now that every table is placed
  for v_key in select * from jsonb_to_recordset(v_foreign_keys) as k(relation text, name text, definition text, referenced text) loop
    v_definition := v_key.definition;
    -- between two tables distributed by the subject, the key goes through the subject
    if v_key.relation = any (v_by_subject) and v_key.referenced = any (v_by_subject) and v_definition !~ '^FOREIGN KEY \(user_id' then
      v_definition := regexp_replace(regexp_replace(v_definition, '^FOREIGN KEY \(', 'FOREIGN KEY (user_id, '),
                                     'REFERENCES ([a-z_.]+)\(', 'REFERENCES \1(user_id, ');
    end if;
    begin
      execute format('alter table %s add constraint %I %s', v_key.relation, v_key.name, v_definition);
    exception when others then
      -- a key Citus cannot hold (between tables distributed differently, or one that sets the
      -- distribution column NULL): the routines that write both tables keep it
      v_refused := v_refused || format('%s.%s (%s)', v_key.relation, v_key.name, sqlerrm);
    end;
  end loop;

  if cardinality(v_refused) > 0 then
    raise notice 'foreign keys Citus cannot hold, kept by the routines that write both tables: %', array_to_string(v_refused, '; ');
  end if;

  -- a generic plan leaves parameters Citus cannot route by: where a routine pins one for the cost of
  -- planning over a single node's partitions (db/CONVENTIONS.md, "Plans"), the cluster plans afresh
  for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                         and exists (select from unnest(p.proconfig) c where c like 'plan_cache_mode=%') loop
    execute format('alter function %s reset plan_cache_mode', v_definition);
  end loop;
  -- a chain is sealed on the node that holds it: a call of the sealer outside a transaction block
  -- goes there by its placement
  perform pg_catalog.create_distributed_function('compliance.seal_audit_log(integer,integer,text)'::regprocedure,
    'placement', colocate_with => 'compliance.audit_logs');
  -- every routine on every node, so a trigger on a shard finds the helpers it calls by name
  -- (hstore's come with the extension)
  for v_definition in select p.oid::regprocedure::text from pg_catalog.pg_proc p
                       where p.pronamespace in ('compliance'::regnamespace, 'compliance_private'::regnamespace)
                         and not exists (select from pg_catalog.pg_depend d
                                          where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
                         and not exists (select from pg_catalog.pg_dist_object o
                                          where o.classid = 'pg_proc'::regclass and o.objid = p.oid) loop
    execute format('select pg_catalog.create_distributed_function(%L::regprocedure)', v_definition);
  end loop;

  -- on every node, for every session of this database: a request context set with SET LOCAL
  -- reaches the shards' sessions (row-level security and the audit triggers read it there), and a
  -- trigger on a shard may write the co-located audit shard and read the reference tables
  foreach v_definition in array array[
      format('alter database %I set citus.propagate_set_commands = %L', current_database(), 'local'),
      format('alter database %I set citus.allow_nested_distributed_execution = %L', current_database(), 'on'),
      format('alter database %I set citus.enable_unsafe_triggers = %L', current_database(), 'on'),
      -- one connection per node in a transaction: an erasure writes a subject's shard and the
      -- reference tables in one transaction, which Citus allows only so
      format('alter database %I set citus.multi_shard_modify_mode = %L', current_database(), 'sequential')] loop
    -- Citus passes ALTER DATABASE … SET on to the workers
    execute v_definition;
  end loop;
end;
$procedure$;

comment on procedure compliance_private.distribute_on_citus(shard_count integer) is
  'Spreads pgcomply over a Citus cluster, once: a subject''s tables by user_id, co-located, so one node holds a subject; the audit log, DSR requests, access grants and propagation tasks by the placement key of the subject''s shard (placement_of); every other table as a reference table on each node. Foreign keys come back where Citus can hold them (a notice names the rest). Every node''s sessions of the database then propagate SET LOCAL, so the request context reaches the shards. Run by setup as a superuser on the coordinator after every migration, once create extension citus is done and the workers are added (CITUS otherwise); the placing happens once, and each later call only brings new or replaced routines to every node and sets their plans. Then call compliance_private.record_expected_grants(), in a transaction of its own, so the privileges check knows the grants it added (setup does both).';

select compliance_private.record_expected_grants();
