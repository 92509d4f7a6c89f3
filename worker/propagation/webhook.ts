/**
 * The webhook connector: the request POSTed as signed JSON to the system's endpoint_url. 2xx but
 * 202: the system did it. 202: it accepted it and will confirm through the signed callback. A
 * redirect is not followed: a signed request goes to the recorded address only.
 */
import { signedHeaders, systemSecret } from '../../core/signing.js';
import { bodyOf, type Connector, type Delivery, failedAnswer, type PropagationTask } from './connector.js';

export function webhookConnector(propagationSecret: string | undefined, callbackUrl: string | undefined): Connector {
  return {
    async deliver(task: PropagationTask, signal: AbortSignal): Promise<Delivery> {
      if (!propagationSecret) {
        return { outcome: 'error', error: 'PROPAGATION_SECRET is not set: the worker cannot sign the request', permanent: false };
      }
      const body = JSON.stringify({ task_id: task.id, request_id: task.request_id, system: task.system, kind: task.kind,
        subject: task.user_id, requested_at: task.created_at, attempt: task.attempts, callback_url: callbackUrl ?? null });
      try {
        const response = await fetch(task.endpoint_url!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-pgcomply-task-id': task.id,
            ...signedHeaders(systemSecret(propagationSecret, task.system), body) },
          body,
          signal,
          redirect: 'manual',
        });
        const answer = await bodyOf(response);
        if (response.status === 202) return { outcome: 'delivered', response: answer || undefined, note: 'accepted; awaiting the system\'s callback' };
        if (response.ok) return { outcome: 'confirmed', response: answer || undefined, note: `the system answered ${response.status}` };
        if (response.status >= 300 && response.status < 400) {
          return { outcome: 'error', error: `the webhook answered ${response.status} (a redirect, not followed: requests go to the recorded endpoint only)`, permanent: false };
        }
        return failedAnswer(response.status, 'the webhook', answer);
      } catch (error) {
        return { outcome: 'error', error: `the webhook could not be reached: ${(error as Error).message}`, permanent: false };
      }
    },
  };
}
