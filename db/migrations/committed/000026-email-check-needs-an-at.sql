--! Previous: sha1:1bcb37c5cc01f888f4ce82618da694be3de158c7
--! Hash: sha1:884754d60db1a6a1639cfac3748800dbc4df0376
--! Message: email-check-needs-an-at

-- The e-mail check of append_audit runs its regex only on text with an @ (an erasure's audit row lists
-- thousands of row ids, and the regex over them cost milliseconds per erasure: bench P3).

-- included from fixtures/audit/refuse_personal_outside.sql
-- compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_field text;
  v_text text;
begin
  foreach v_field in array array['details', 'resource_id'] loop
    v_text := case v_field when 'details' then details::text else resource_id end;
    continue when v_text is null;
    if (length(user_id) >= 3 and strpos(v_text, user_id) > 0) or (length(actor_id) >= 3 and strpos(v_text, actor_id) > 0) then
      perform compliance_private.raise_error('PERSD', format('%s names the subject or the actor', v_field),
        'details and resource_id are kept after erasure: put who it is about in user_id and anything identifying in personal_details.');
    end if;
    -- an address needs an @: the cheap test first, so long id lists (an erasure's) skip the regex
    if strpos(v_text, '@') > 0 and v_text ~ '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}' then
      perform compliance_private.raise_error('PERSD', format('%s holds an e-mail address', v_field),
        'details and resource_id are kept after erasure: put identifying values in personal_details.');
    end if;
  end loop;
end;
$function$;

comment on function compliance_private.refuse_personal_outside(details jsonb, resource_id text, user_id text, actor_id text) is
  'Refuses (PERSD) audit details or a resource id that contain the subject''s or the actor''s id (3 characters or more) or an e-mail address: those fields survive erasure.';
