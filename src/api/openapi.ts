/**
 * An OpenAPI 3 document describing the published endpoints a token may read, with
 * their template parameters, served at `/v0/pipes/openapi.json`.
 */
import type { TemplateParam } from '../template/index.js';

export interface EndpointDoc {
  name: string;
  description: string;
  params: readonly TemplateParam[];
}

export function openApiDocument(serverUrl: string, endpoints: readonly EndpointDoc[]): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const ep of endpoints) {
    const parameters = [
      ...ep.params.map((p) => ({
        name: p.name,
        in: 'query',
        required: p.required,
        ...(p.description === undefined ? {} : { description: p.description }),
        schema: schemaFor(p),
        ...(p.example === undefined ? {} : { example: p.example }),
      })),
      { name: 'q', in: 'query', required: false, description: 'SQL to run over the endpoint result, named `_`', schema: { type: 'string' } },
    ];
    for (const [ext, mime] of [
      ['json', 'application/json'],
      ['csv', 'text/csv'],
      ['csvwithnames', 'text/csv'],
      ['ndjson', 'application/x-ndjson'],
    ] as const) {
      paths[`/v0/pipes/${ep.name}.${ext}`] = {
        get: {
          operationId: `${ep.name}_${ext}`,
          summary: ep.description === '' ? `Query the ${ep.name} endpoint (${ext})` : ep.description,
          parameters,
          responses: {
            '200': { description: 'The endpoint result', content: { [mime]: ext === 'json' ? { schema: { $ref: '#/components/schemas/EndpointResult' } } : { schema: { type: 'string' } } } },
            '400': { description: 'A parameter is missing or invalid', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
            '403': { description: 'The token may not read this endpoint', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
          },
        },
      };
    }
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Colibri endpoints', version: '1.0.0' },
    servers: [{ url: serverUrl }],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
        EndpointResult: {
          type: 'object',
          properties: {
            meta: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' } } } },
            data: { type: 'array', items: { type: 'object' } },
            rows: { type: 'integer' },
            rows_before_limit_at_least: { type: 'integer' },
            statistics: { type: 'object', properties: { elapsed: { type: 'number' }, rows_read: { type: 'integer' }, bytes_read: { type: 'integer' } } },
          },
        },
      },
    },
  };
}

function schemaFor(p: TemplateParam): Record<string, unknown> {
  const base = ((): Record<string, unknown> => {
    const t = p.type;
    if (/^U?Int(8|16|32)$|^Int$|^Integer$/.test(t)) return { type: 'integer' };
    if (/^U?Int(64|128|256)$/.test(t)) return { type: 'string', pattern: '^-?[0-9]+$' };
    if (/^Float/.test(t)) return { type: 'number' };
    if (t === 'Boolean') return { type: 'boolean' };
    if (t === 'Date') return { type: 'string', format: 'date' };
    if (t === 'DateTime' || t === 'DateTime64') return { type: 'string', format: 'date-time' };
    if (/^Array/.test(t)) return { type: 'array', items: { type: 'string' } };
    return { type: 'string' };
  })();
  if (p.enum !== undefined) base.enum = p.enum;
  if (p.default !== undefined && p.default !== null) base.default = p.default;
  return base;
}
