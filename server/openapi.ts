import { generateOpenApiDocument } from 'trpc-to-openapi';
import { appRouter } from './routers/index.js';

/**
 * The OpenAPI document of the REST routes, each response described as it is sent. The server
 * URL is relative ("/api"): the document is served from the server it describes, whatever
 * address it listens on (0.0.0.0 is nobody's address to call).
 */
export function openApiDocument() {
  const document = generateOpenApiDocument(appRouter, {
    title: 'pgcomply',
    description: 'Personal data under GDPR, HIPAA and SOC 2 rules enforced in PostgreSQL. Authenticate with a bearer JWT. '
      + 'Errors are JSON {code, message}; a 4xx never changes anything.',
    version: '0.1.0',
    baseUrl: '/api',
  });
  // the export is served as a file, not as the tRPC procedure's envelope: the subject's document
  // as JSON, or CSV with format=csv, with a Content-Disposition naming the file
  const exportGet = document.paths?.['/v1/users/me/export']?.get as { responses?: Record<string, unknown> } | undefined;
  if (exportGet?.responses) {
    exportGet.responses['200'] = {
      description: 'The portable export, as an attachment',
      headers: {
        'Content-Disposition': { description: 'attachment; filename="user_data_<subject>.json" (or .csv)', schema: { type: 'string' } },
      },
      content: {
        'application/json': { schema: { type: 'object', additionalProperties: true, description: 'Everything held about the subject, by table' } },
        'text/csv': { schema: { type: 'string', description: 'One section per table: a title line, a header line, then the rows' } },
      },
    };
  }
  const recordGet = document.paths?.['/v1/dpo/processing-record']?.get as { responses?: Record<string, unknown> } | undefined;
  if (recordGet?.responses) {
    recordGet.responses['200'] = {
      description: 'The record of processing activities: JSON; CSV as an attachment; or a self-contained HTML page to hand over',
      content: {
        'application/json': { schema: { type: 'object', additionalProperties: true, description: 'activities, systems and gaps (compliance.processing_record)' } },
        'text/csv': { schema: { type: 'string', description: 'one row per activity and purpose, then one per gap' } },
        'text/html': { schema: { type: 'string', description: 'one page, no script, printable' } },
      },
    };
  }
  // served by the HTTP layer itself: a system, not a person, calls it, signed with its own secret
  (document.paths ??= {})['/v1/propagation/callback'] = {
    post: {
      summary: 'Another system confirms a request pgcomply sent it (erasure, export, rectification, restriction); signed with the system\'s secret (x-pgcomply-timestamp, x-pgcomply-signature: sha256=HMAC-SHA256 of "<timestamp>.<body>"), within 5 minutes',
      tags: ['propagation'],
      security: [],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required: ['task_id', 'system', 'outcome'],
        properties: { task_id: { type: 'string' }, system: { type: 'string' }, outcome: { type: 'string', enum: ['done', 'nothing_held'] }, response: { type: 'string', maxLength: 65536 } } } } } },
      responses: {
        200: { description: 'Confirmed', content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' }, request_id: { type: 'string' } } } } } },
        400: { description: 'Not a callback' },
        401: { description: 'The signature does not verify with that system\'s secret, or is more than 5 minutes old' },
        409: { description: 'No task of this system awaits confirmation (PRTSK): confirmed already, or another system\'s' },
      },
    },
  } as never;
  return document;
}
