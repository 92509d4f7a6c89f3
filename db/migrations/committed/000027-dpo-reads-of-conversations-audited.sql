--! Previous: sha1:884754d60db1a6a1639cfac3748800dbc4df0376
--! Hash: sha1:19a9dd3db2052fea4fbe2ac6d345a973164dcd6d
--! Message: dpo-reads-of-conversations-audited

-- A DPO's read of someone's conversation is audited like the other reads of issue #15, item 3.

-- included from fixtures/subject-rights/conversation_messages.sql
-- compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer): its current definition. Change it here and include this file
-- in the migration that changes it (db/CONVENTIONS.md).

CREATE OR REPLACE FUNCTION compliance.conversation_messages(conversation_id uuid, after_id bigint DEFAULT 0, page_size integer DEFAULT 100)
 RETURNS TABLE(id bigint, role text, content text, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_subject text;
begin
  if page_size not between 1 and 1000 or after_id is null or after_id < 0 then
    perform compliance_private.raise_error('BADRG', 'page_size must be 1..1000 and after_id at least 0',
      'Page with after_id: the id of the last message of the previous page.');
  end if;
  -- row-level security decides whose conversations the caller sees
  select c.user_id into v_subject from compliance.conversations c where c.conversation_id = conversation_messages.conversation_id;
  if not found then
    perform compliance_private.raise_error('NOCNV', format('no conversation %s', conversation_id),
      'The conversation does not exist or belongs to someone else.');
  end if;
  return query
    select m.id, m.role, m.content, m.created_at
      from compliance.messages m
     where m.conversation_id = conversation_messages.conversation_id and m.id > after_id
     order by m.id
     limit page_size;
  -- someone other than the subject (a DPO) reading the conversation leaves a row (issue #15, item 3)
  if current_user <> 'compliance_app' then
    perform compliance.log_event('subject.messages_read', 'gdpr', 'conversation', conversation_id::text,
      jsonb_build_object('procedure', 'conversation_messages', 'after_id', after_id, 'page_size', page_size), v_subject);
  end if;
end;
$function$;

comment on function compliance.conversation_messages(conversation_id uuid, after_id bigint, page_size integer) is
  'The messages of one conversation in the order they were added, page_size (1..1000) at a time after the message id after_id. Row-level security limits the app to its subject''s conversations; any other reader (a DPO) is audited (subject.messages_read). Errors: NOCNV when the caller cannot see the conversation, BADRG for a bad page.';
