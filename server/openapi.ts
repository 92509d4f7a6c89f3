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
  return document;
}
