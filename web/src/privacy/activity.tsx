/** My data, continued: conversations with their messages, health records (decrypted by the server), and who accessed them. */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, when } from '../api.js';
import { json, Loading, Problem } from '../ui.js';

export function Conversations() {
  const conversations = useQuery({ queryKey: ['me.conversations'], queryFn: () => api.me.conversations.query() });
  return (
    <section aria-labelledby="conversations-title">
      <h2 id="conversations-title">Conversations</h2>
      {conversations.isPending ? <Loading what="your conversations" /> : conversations.error ? <Problem error={conversations.error} />
        : conversations.data!.length === 0 ? <p>You have no conversations.</p>
          : conversations.data!.map((c) => <Conversation key={c.conversation_id} id={c.conversation_id} title={c.title} last={String(c.last_message_at)} />)}
    </section>
  );
}

function Conversation({ id, title, last }: { id: string; title: string | null; last: string }) {
  const [open, setOpen] = useState(false);
  const messages = useQuery({ queryKey: ['me.messages', id], queryFn: () => api.me.conversationMessages.query({ conversation_id: id }), enabled: open });
  return (
    <details onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>{title ?? 'Untitled conversation'} <small>(last message {when(last)})</small></summary>
      {!open ? null : messages.isPending ? <Loading what="the messages" /> : messages.error ? <Problem error={messages.error} /> : (
        <ol className="messages">
          {messages.data!.map((m) => <li key={m.id}><strong>{m.role}</strong> <small>{when(m.created_at)}</small><p>{m.content}</p></li>)}
        </ol>
      )}
    </details>
  );
}

export function HealthRecords() {
  const records = useQuery({ queryKey: ['me.health'], queryFn: () => api.me.health.list.query() });
  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">Health records</h2>
      {records.isPending ? <Loading what="your health records" /> : records.error ? <Problem error={records.error} /> : records.data!.length === 0 ? <p>No health record is stored.</p> : (
        <table aria-label="Your health records">
          <thead><tr><th scope="col">Recorded</th><th scope="col">Category</th><th scope="col">By</th><th scope="col">Content</th><th scope="col">Integrity</th></tr></thead>
          <tbody>
            {records.data!.map((r) => (
              <tr key={r.id}><td>{when(r.recorded_at)}</td><td>{r.category}</td><td>{r.recorded_by ?? '—'}</td>
                <td><pre>{r.data ? json(r.data) : '(cannot be shown)'}</pre></td><td>{r.integrity === 'verified' ? 'verified' : `failed: ${r.problem}`}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function AccessLog() {
  const log = useQuery({ queryKey: ['me.accessLog'], queryFn: () => api.me.accessLog.query({ page_size: 100 }) });
  return (
    <section aria-labelledby="access-title">
      <h2 id="access-title">Who accessed my data</h2>
      <p>Every access to your health records, every refused attempt, and everything the data protection officer or the system did about you.</p>
      {log.isPending ? <Loading what="the access log" /> : log.error ? <Problem error={log.error} /> : log.data!.entries.length === 0 ? <p>Nobody else has accessed your data.</p> : (
        <table aria-label="Who accessed my data">
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">What</th><th scope="col">Purpose</th><th scope="col">Outcome</th></tr></thead>
          <tbody>
            {log.data!.entries.map((e) => (
              <tr key={e.id} className={e.emergency ? 'emergency' : undefined}>
                <td>{when(e.occurred_at)}</td><td>{e.actor_id ?? '—'}</td><td>{e.actor_role}</td>
                <td>{e.action}{e.emergency ? <> <mark>emergency access</mark></> : null}</td>
                <td>{e.purpose ?? '—'}</td><td>{e.outcome}{e.failure_reason ? `: ${e.failure_reason}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
