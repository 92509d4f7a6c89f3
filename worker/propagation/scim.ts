/**
 * The SCIM 2.0 connector (RFC 7643, 7644), which Okta, Entra ID and Keycloak's SCIM extension
 * accept: the subject's user is found by the configured attribute, then
 * - erasure: DELETE /Users/{id}, then read back: only a 404 confirms it;
 * - export: the user resource as it came;
 * - restriction: PATCH active to false;
 * - rectification: SCIM cannot say what to correct, so the DPO confirms once it is done there.
 * A subject the directory does not have is confirmed as nothing held. An error body is kept as
 * it came.
 */
import type { ScimConnection } from '../../core/config.js';
import { bodyOf, type Connector, type Delivery, failedAnswer, type PropagationTask } from './connector.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type Found = { id: string; resource: string } | null;

export function scimConnector(connections: Record<string, ScimConnection>): Connector {
  return {
    async deliver(task: PropagationTask, signal: AbortSignal): Promise<Delivery> {
      const connection = connections[task.system];
      if (!connection) {
        return { outcome: 'error', error: `SCIM_CONNECTORS names no connection for system ${task.system}`, permanent: false };
      }
      if (!task.user_id) return { outcome: 'error', error: 'the task names no subject', permanent: true };
      const base = connection.url.replace(/\/+$/, '');
      const call = (method: string, path: string, body?: unknown) => fetch(`${base}${path}`, {
        method, signal, redirect: 'manual',
        headers: { authorization: `Bearer ${connection.token}`, accept: 'application/scim+json',
          ...(body ? { 'content-type': 'application/scim+json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      try {
        const found = await find(call, connection.match, task.user_id);
        if ('outcome' in found) return found;
        const user = found.user;
        if (!user) return { outcome: 'confirmed', note: 'nothing_held: the directory has no such user' };
        const path = `/Users/${encodeURIComponent(user.id)}`;
        switch (task.kind) {
          case 'export':
            return { outcome: 'confirmed', response: user.resource, note: 'the user resource, as the directory holds it' };
          case 'restriction': {
            const patched = await call('PATCH', path, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
            const answer = await bodyOf(patched);
            return patched.ok ? { outcome: 'confirmed', note: 'the user is deactivated (active: false)' } : failedAnswer(patched.status, 'the SCIM PATCH', answer);
          }
          case 'rectification':
            return { outcome: 'delivered', note: 'SCIM cannot carry what to correct: the DPO confirms once the user is corrected in the directory' };
          case 'erasure': {
            const deleted = await call('DELETE', path);
            const answer = await bodyOf(deleted);
            if (!deleted.ok && deleted.status !== 404) return failedAnswer(deleted.status, 'the SCIM DELETE', answer);
            const readBack = await call('GET', path);
            const readAnswer = await bodyOf(readBack);
            if (readBack.status === 404) return { outcome: 'confirmed', response: readAnswer || undefined, note: 'deleted; read back as gone (404)' };
            return { outcome: 'error', error: `the user is still there after the DELETE (read back: ${readBack.status})`, response: readAnswer, permanent: false };
          }
        }
      } catch (error) {
        return { outcome: 'error', error: `the SCIM server could not be reached: ${(error as Error).message}`, permanent: false };
      }
    },
  };
}

type Call = (method: string, path: string, body?: unknown) => Promise<Response>;

/** the subject's user, by id or through a filter on the configured attribute (RFC 7644 §3.4.2.2) */
async function find(call: Call, match: ScimConnection['match'], subject: string): Promise<{ user: Found } | Delivery> {
  if (match === 'id') {
    const response = await call('GET', `/Users/${encodeURIComponent(subject)}`);
    const answer = await bodyOf(response);
    if (response.status === 404) return { user: null };
    if (!response.ok) return failedAnswer(response.status, 'the SCIM GET', answer);
    return { user: { id: subject, resource: answer } };
  }
  const filter = `${match} eq "${subject.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const response = await call('GET', `/Users?filter=${encodeURIComponent(filter)}`);
  const answer = await bodyOf(response);
  if (!response.ok) return failedAnswer(response.status, 'the SCIM search', answer);
  const list = JSON.parse(answer) as { Resources?: { id: string }[] };
  const matches = list.Resources ?? [];
  if (matches.length > 1) return { outcome: 'error', error: `${matches.length} users have ${match} ${subject}: the DPO decides`, permanent: true };
  return { user: matches[0] ? { id: matches[0].id, resource: JSON.stringify(matches[0]) } : null };
}
