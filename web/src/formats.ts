/** Times as the reader's browser writes them (its locale and time zone), and durations in words. */
import type { TFunction } from 'i18next';

/** a date the API sent (JSON carries it as a string) in the reader's locale and time zone */
export const when = (value: string | Date | null | undefined): string =>
  value ? new Date(value).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—';

/** a day, without the time */
export const day = (value: string | Date | null | undefined): string =>
  value ? new Date(value).toLocaleDateString(undefined, { dateStyle: 'medium' }) : '—';

/** "2 days 3 hours" (or minutes under an hour): how far a deadline is, either way */
export function duration(t: TFunction, ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days > 0) return hours > 0 ? `${t('time.days', { count: days })} ${t('time.hours', { count: hours })}` : t('time.days', { count: days });
  if (hours > 0) return t('time.hours', { count: hours });
  return t('time.minutes', { count: minutes % 60 });
}

/** "2 days 3 hours left" or "overdue by 5 hours" */
export const timeLeft = (t: TFunction, due: string | Date, now: number): string => {
  const ms = new Date(due).getTime() - now;
  return ms >= 0 ? t('time.left', { duration: duration(t, ms) }) : t('time.overdueBy', { duration: duration(t, ms) });
};
