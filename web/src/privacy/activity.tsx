/** My data, continued: conversations with their messages, health records (decrypted by the server), and who accessed them. */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AccessLogTable } from '../access-log.js';
import { api, when } from '../api.js';
import { useSession } from '../session.js';
import { json, Loading, SubjectProblem } from '../ui.js';

export function Conversations() {
  const { t } = useTranslation();
  const conversations = useQuery({ queryKey: ['me.conversations'], queryFn: () => api.me.conversations.query() });
  return (
    <section aria-labelledby="conversations-title">
      <h2 id="conversations-title">{t('conversations.title')}</h2>
      {conversations.isPending ? <Loading what={t('privacy.what.conversations')} /> : conversations.error ? <SubjectProblem error={conversations.error} />
        : conversations.data!.length === 0 ? <p>{t('conversations.none')}</p>
          : conversations.data!.map((c) => <Conversation key={c.conversation_id} id={c.conversation_id} title={c.title} last={String(c.last_message_at)} />)}
    </section>
  );
}

function Conversation({ id, title, last }: { id: string; title: string | null; last: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const messages = useQuery({ queryKey: ['me.messages', id], queryFn: () => api.me.conversationMessages.query({ conversation_id: id }), enabled: open });
  return (
    <details onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>{title ?? t('conversations.untitled')} <small>({t('conversations.last', { at: when(last) })})</small></summary>
      {!open ? null : messages.isPending ? <Loading what={t('privacy.what.messages')} /> : messages.error ? <SubjectProblem error={messages.error} /> : (
        <ol className="messages">
          {messages.data!.map((m) => <li key={m.id}><strong>{t(`messageRole.${m.role}`, { defaultValue: m.role })}</strong> <small>{when(m.created_at)}</small><p>{m.content}</p></li>)}
        </ol>
      )}
    </details>
  );
}

export function HealthRecords() {
  const { t } = useTranslation();
  const records = useQuery({ queryKey: ['me.health'], queryFn: () => api.me.health.list.query() });
  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">{t('health.title')}</h2>
      {records.isPending ? <Loading what={t('privacy.what.health')} /> : records.error ? <SubjectProblem error={records.error} /> : records.data!.length === 0 ? <p>{t('health.none')}</p> : (
        <table aria-label={t('health.table')}>
          <thead><tr><th scope="col">{t('health.recorded')}</th><th scope="col">{t('health.category')}</th><th scope="col">{t('health.by')}</th><th scope="col">{t('health.content')}</th><th scope="col">{t('health.integrity')}</th></tr></thead>
          <tbody>
            {records.data!.map((r) => (
              <tr key={r.id}><td>{when(r.recorded_at)}</td><td>{r.category}</td><td>{r.recorded_by ?? '—'}</td>
                <td><pre>{r.data ? json(r.data) : t('health.cannotShow')}</pre></td><td>{r.integrity === 'verified' ? t('health.verified') : t('health.failed')}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function AccessLog() {
  const { t } = useTranslation();
  const { identity } = useSession();
  // others' access first: the patient's own page loads would push a staff member's read down
  const [othersOnly, setOthersOnly] = useState(true);
  const log = useQuery({ queryKey: ['me.accessLog', othersOnly], queryFn: () => api.me.accessLog.query({ page_size: 100, others_only: othersOnly }) });
  return (
    <section aria-labelledby="access-title">
      <h2 id="access-title">{t('accessLog.title')}</h2>
      <p>{t('accessLog.intro')}</p>
      <fieldset className="inline-choice">
        <legend>{t('accessLog.show')}</legend>
        <label><input type="radio" name="access-filter" checked={othersOnly} onChange={() => setOthersOnly(true)} /> {t('accessLog.othersOnly')}</label>
        <label><input type="radio" name="access-filter" checked={!othersOnly} onChange={() => setOthersOnly(false)} /> {t('accessLog.everything')}</label>
      </fieldset>
      {log.isPending ? <Loading what={t('privacy.what.accessLog')} /> : log.error ? <SubjectProblem error={log.error} /> : log.data!.entries.length === 0 ? <p>{t('accessLog.none')}</p> : (
        <AccessLogTable entries={log.data!.entries} subject={identity?.subject ?? ''} perspective="patient" label={t('accessLog.title')} />
      )}
    </section>
  );
}
