/**
 * An error the domain code raises for a person to act on, without knowing how it reaches them:
 * the server maps it to its HTTP status (server/errors.ts), the CLI prints it. `sqlstate` is one
 * of db/ERROR_CODES.md's when the refusal has one; `recorded` says the database already wrote the
 * refusal to the audit log, so the request's transaction commits to keep that row.
 */
export type RefusalKind = 'bad_request' | 'forbidden' | 'not_found' | 'conflict' | 'too_large' | 'unavailable';

export class Refusal extends Error {
  constructor(readonly kind: RefusalKind, message: string, readonly sqlstate: string | null = null, readonly recorded = false) {
    super(message);
    this.name = 'Refusal';
  }
}
