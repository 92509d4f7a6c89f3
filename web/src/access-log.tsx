/**
 * An access log in sentences: who did what to whose data, for what purpose, and why a refusal
 * was one. The patient reads it about themselves ("your"), the DPO about a subject (context
 * "dpo" in the catalogue); the codes stay in the catalogue's keys, never on the page.
 */
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { api } from './api.js';
import { when } from './formats.js';

type Entry = Awaited<ReturnType<typeof api.me.accessLog.query>>['entries'][number];
export type Perspective = 'patient' | 'dpo';

function who(t: TFunction, entry: Entry, subject: string, perspective: Perspective): string {
  if (entry.actor_id !== null && entry.actor_id === subject) return t('log.who.subject', { context: perspective === 'dpo' ? 'dpo' : undefined });
  if (entry.actor_role === 'system') return t('log.who.system');
  const role = t(`actorRole.${entry.actor_role}`, { defaultValue: entry.actor_role });
  return entry.actor_id ? `${role} ${entry.actor_id}` : t('log.who.erased', { role });
}

/** one entry as a sentence; an action without one of its own still reads as words */
export function sentence(t: TFunction, i18n: { exists(key: string): boolean }, entry: Entry, subject: string, perspective: Perspective): string {
  const context = perspective === 'dpo' ? 'dpo' : undefined;
  const values = { who: who(t, entry, subject, perspective), count: entry.record_ids.length, context };
  const key = `log.action.${entry.action}`;
  let text = i18n.exists(key) ? t(key, values) : t('log.action.other', values);
  // an emergency says so once: not "for an emergency in an emergency", not "opened emergency access in an emergency"
  if (entry.purpose && !(entry.emergency && entry.purpose === 'emergency')) text += t('log.for', { purpose: t(`purposeOfUse.${entry.purpose}`, { defaultValue: entry.purpose }) });
  if (entry.emergency && entry.action !== 'access.emergency') text += t('log.inEmergency');
  text += '.';
  if (entry.outcome !== 'success') {
    const reason = entry.failure_reason && i18n.exists(`log.reason.${entry.failure_reason}`) ? t(`log.reason.${entry.failure_reason}`) : t('log.reason.other');
    text = `${t('log.refused')} ${text} ${reason}`;
  }
  return text;
}

export function AccessLogTable({ entries, subject, perspective, label }: { entries: Entry[]; subject: string; perspective: Perspective; label: string }) {
  const { t, i18n } = useTranslation();
  return (
    <table aria-label={label}>
      <thead><tr><th scope="col">{t('column.when')}</th><th scope="col">{t('column.whatHappened')}</th></tr></thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.id} className={e.emergency ? 'emergency' : e.outcome !== 'success' ? 'refused' : undefined}>
            <td>{when(e.occurred_at)}</td>
            <td>{sentence(t, i18n, e, subject, perspective)}{e.emergency ? <> <mark>{t('log.emergencyMark')}</mark></> : null}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
