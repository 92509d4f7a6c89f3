import { generateOpenApiDocument } from 'trpc-to-openapi';
import { appRouter } from './routers/index.js';

export function openApiDocument(baseUrl: string) {
  const document = generateOpenApiDocument(appRouter, {
    title: 'pgcomply',
    description: 'Personal data under GDPR, HIPAA and SOC 2 rules enforced in PostgreSQL. Authenticate with a bearer JWT.',
    version: '0.1.0',
    baseUrl: `${baseUrl}/api`,
  });
  // the export is served as a file: JSON, or CSV with format=csv
  const exportGet = document.paths?.['/v1/users/me/export']?.get;
  const ok = exportGet?.responses?.['200'] as { content?: Record<string, unknown> } | undefined;
  if (ok?.content) ok.content['text/csv'] = { schema: { type: 'string' } };
  return document;
}
