/** Small pieces every page uses: a refusal as one sentence, a loading line, a key-value list. */
import type { ReactNode } from 'react';
import { problemOf } from './api.js';

/** what the API said, with its SQLSTATE; an explanation for the refusals a person can act on */
export function Problem({ error, explain = {} }: { error: unknown; explain?: Record<string, ReactNode> }) {
  if (!error) return null;
  const problem = problemOf(error);
  return (
    <div role="alert" className="problem">
      <p><strong>Refused:</strong> {problem.message}{problem.sqlstate ? ` (${problem.sqlstate})` : ''}</p>
      {problem.sqlstate && explain[problem.sqlstate] ? <p>{explain[problem.sqlstate]}</p> : null}
    </div>
  );
}

export const Loading = ({ what }: { what: string }) => <p aria-busy="true">Loading {what}…</p>;

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
