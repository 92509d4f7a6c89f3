/** Small pieces every page uses: a refusal in words, a loading line, a key-value list, a confirmed action with a note. */
import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { problemOf } from './api.js';

/**
 * A refusal as the staff pages show it: what the API said, with its SQLSTATE, and what to do
 * for the refusals a person can act on (`explain`: catalogue keys by SQLSTATE).
 */
export function Problem({ error, explain = {} }: { error: unknown; explain?: Record<string, string> }) {
  const { t } = useTranslation();
  if (!error) return null;
  const problem = problemOf(error);
  return (
    <div role="alert" className="problem">
      <p><strong>{t('problem.refused')}</strong> {problem.message}{problem.sqlstate ? ` (${problem.sqlstate})` : ''}</p>
      {problem.sqlstate && explain[problem.sqlstate] ? <p>{t(explain[problem.sqlstate]!)}</p> : null}
    </div>
  );
}

/**
 * A refusal as a data subject reads it: what it means for them, in their language, never the
 * database's words (which name functions and roles); the code only as a reference for support.
 */
export function SubjectProblem({ error }: { error: unknown }) {
  const { t, i18n } = useTranslation();
  if (!error) return null;
  const problem = problemOf(error);
  const reference = problem.sqlstate ?? problem.code ?? 'UNKNOWN';
  const key = `subjectProblem.${reference}`;
  return (
    <div role="alert" className="problem">
      <p>{i18n.exists(key) ? t(key) : problem.code === 'BAD_REQUEST' ? t('subjectProblem.input') : t('subjectProblem.other')}</p>
      <p><small>{t('subjectProblem.reference', { reference })}</small></p>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  const { t } = useTranslation();
  return <p aria-busy="true">{t('loading', { what })}</p>;
}

export function Facts({ facts }: { facts: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {facts.map(([term, value]) => (
        <div key={term}><dt>{term}</dt><dd>{value ?? '—'}</dd></div>
      ))}
    </dl>
  );
}

export const json = (value: unknown) => JSON.stringify(value, null, 2);

/**
 * A decision that needs a note: the button opens a form asking for it, and a second button
 * confirms. `label` names the action ("Mark appropriate"); `describe` says on what, for a screen reader.
 */
export function NotedAction({ label, describe, noteLabel, confirmLabel, onConfirm, busy, required = true, className }: {
  label: string; describe: string; noteLabel: string; confirmLabel: string; busy: boolean; required?: boolean; className?: string;
  onConfirm: (note: string) => void;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const id = useId();
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    onConfirm(String(new FormData(event.currentTarget).get('note') ?? '').trim());
    setOpen(false);
  };
  if (!open) {
    return (
      <>
        <button type="button" className={className} aria-describedby={`${id}-on`} onClick={() => setOpen(true)}>{label}</button>
        <span id={`${id}-on`} className="visually-hidden">{describe}</span>
      </>
    );
  }
  return (
    <form onSubmit={submit} className="noted" aria-label={`${label}: ${describe}`}>
      <label>{noteLabel}<input name="note" required={required} autoFocus maxLength={2000} /></label>
      <div role="group">
        <button type="submit" className={className} aria-busy={busy}>{confirmLabel}</button>
        <button type="button" className="secondary outline" onClick={() => setOpen(false)}>{t('action.cancel')}</button>
      </div>
    </form>
  );
}
