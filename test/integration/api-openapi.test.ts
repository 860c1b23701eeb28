// The OpenAPI document describes exactly the API the app serves: every registered route
// (from app.registeredRoutes), no more, with its input schemas, errors and security.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApiFixture, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';

interface Operation {
  readonly summary?: string;
  readonly requestBody?: { content: Record<string, { schema: unknown }> };
  readonly parameters?: { in: string; name: string }[];
  readonly responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
  readonly security?: unknown[];
}
interface OpenApi {
  readonly openapi: string;
  readonly info: { title: string; version: string };
  readonly paths: Record<string, Record<string, Operation>>;
  readonly security: unknown[];
  readonly components: {
    securitySchemes: Record<string, unknown>;
    schemas: Record<string, unknown>;
  };
}

/** /api/v1/labs/:lab → /api/v1/labs/{lab} */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

for (const dialect of dialects) {
  describe(`OpenAPI document on ${dialect.name}`, () => {
    let f: ApiFixture;
    let doc: OpenApi;
    before(async () => {
      f = await createApiFixture(dialect);
      const response = await f.request({ method: 'GET', url: '/api/docs/json' });
      assert.equal(response.statusCode, 200);
      doc = response.json<OpenApi>();
    });
    after(() => f?.close());

    // WebSocket routes are left out: OpenAPI 3 cannot describe one (@fastify/websocket
    // hides them), and their success is 101, not a 2xx answer.
    const apiRoutes = () =>
      f.app.registeredRoutes.filter(
        (route) =>
          (route.url.startsWith('/api/v1/') || route.url.startsWith('/terminal/v1/')) &&
          route.method !== 'HEAD' &&
          route.schema?.hide !== true,
      );

    it('is OpenAPI 3 with both ways to authenticate', () => {
      assert.match(doc.openapi, /^3\./);
      assert.equal(doc.info.title, 'LabVirt API');
      assert.ok(doc.components.securitySchemes['bearer']);
      assert.ok(doc.components.securitySchemes['session']);
      assert.ok(doc.components.schemas['Problem'], 'schemas keep their names');
    });

    it('lists every registered route, and nothing else', () => {
      const registered = apiRoutes().map((route) => `${route.method} ${openApiPath(route.url)}`);
      const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      );
      assert.ok(registered.length >= 25);
      assert.deepEqual([...documented].sort(), [...registered].sort());
    });

    it('documents each operation: summary, inputs, problem answers, security', () => {
      for (const route of apiRoutes()) {
        const operation = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
        const name = `${route.method} ${route.url}`;
        assert.ok(operation?.summary, `${name} has a summary`);
        if (route.schema?.body !== undefined)
          assert.ok(
            operation.requestBody?.content['application/json'],
            `${name} documents its body`,
          );
        for (const [, param] of route.url.matchAll(/:(\w+)/g))
          assert.ok(
            operation.parameters?.some((p) => p.in === 'path' && p.name === param),
            `${name} documents :${param}`,
          );
        const statuses = Object.keys(operation.responses);
        assert.ok(
          statuses.some((status) => status.startsWith('2')),
          `${name} documents success`,
        );
        const isPublic = route.config.auth?.access === 'public';
        if (!isPublic) assert.ok(statuses.includes('401'), `${name} documents 401`);
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          const content: Record<string, { schema: { $ref?: string } }> =
            operation.responses[status]!.content ?? {};
          assert.deepEqual(Object.keys(content), ['application/problem+json'], `${name} ${status}`);
          const schema = content['application/problem+json']?.schema;
          assert.equal(
            schema?.$ref,
            '#/components/schemas/Problem',
            `${name} ${status} is a Problem`,
          );
        }
        // Public operations say they need no credentials; the rest inherit the global ones.
        assert.deepEqual(operation.security, isPublic ? [] : undefined, `${name} security`);
      }
      assert.ok(doc.security.length > 0);
    });

    it('the browsable docs and the YAML form are served', async () => {
      const html = await f.request({ method: 'GET', url: '/api/docs' });
      assert.equal(html.statusCode, 200);
      assert.match(String(html.headers['content-type']), /text\/html/);
      const yaml = await f.request({ method: 'GET', url: '/api/docs/yaml' });
      assert.equal(yaml.statusCode, 200);
      assert.match(yaml.body, /^openapi: 3\./m);
      assert.match(yaml.body, /\/api\/v1\/labs/);
    });
  });
}
