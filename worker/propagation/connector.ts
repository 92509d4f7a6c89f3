/**
 * What the worker needs from a connector: deliver one propagation task and say what became of
 * it. A connector never writes to the database; worker/tasks/deliver-propagation.ts records the
 * outcome. To reach another kind of system, implement Connector and add it to connectorFor.
 */
export type RequestKind = 'erasure' | 'export' | 'rectification' | 'restriction';

export interface PropagationTask {
  id: string;
  request_id: string | null;
  system: string;
  kind: RequestKind;
  /** the subject as the system knows it */
  user_id: string | null;
  attempts: number;
  connector: 'webhook' | 'scim';
  endpoint_url: string | null;
  created_at: Date;
}

export type Delivery =
  /** the system did it and said so: the task is confirmed */
  | { outcome: 'confirmed'; response?: string; note?: string }
  /** the system accepted it: its signed callback or the DPO confirms */
  | { outcome: 'delivered'; response?: string; note?: string }
  /** it did not work; permanent: trying again cannot help (the DPO retries once it is fixed) */
  | { outcome: 'error'; error: string; response?: string; permanent: boolean };

export interface Connector {
  deliver(task: PropagationTask, signal: AbortSignal): Promise<Delivery>;
}

/** the most of an answer a task keeps */
export const MAX_RESPONSE_CHARACTERS = 65_536;

/** an HTTP status's meaning for a delivery: 5xx, 408 and 429 pass, any other 4xx will not */
export function failedAnswer(status: number, what: string, response: string): Delivery {
  const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
  return { outcome: 'error', error: `${what} answered ${status}`, response: response.slice(0, MAX_RESPONSE_CHARACTERS), permanent };
}

/** an answer's body as text, bounded */
export async function bodyOf(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  return text.slice(0, MAX_RESPONSE_CHARACTERS);
}
