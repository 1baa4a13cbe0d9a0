import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import { openApi30Problems } from '../../helpers/api-openapi.ts';
import { ROUTES } from '../../helpers/api-routes.ts';

describe('GET /openapi.json', () => {
  let api: ApiHarness;
  // biome-ignore lint/suspicious/noExplicitAny: the document is inspected freely
  let document: any;

  beforeAll(async () => {
    api = await apiHarness();
    const answer = await api.request('GET', '/openapi.json', { token: OPERATOR_SECRET });
    expect(answer.status).toBe(200);
    document = answer.body;
  });
  afterAll(async () => api.close());

  it('is a valid OpenAPI 3.0 document', () => {
    expect(document.openapi).toBe('3.0.3');
    expect(openApi30Problems(document)).toEqual([]);
  });

  it('finds the problems a broken document has (the checker checks)', () => {
    const broken = structuredClone(document);
    broken.paths['/v1/incidents/{id}'].get.parameters = [];
    broken.components.schemas.Incident.properties.status = { type: ['string', 'null'], const: 'x' };
    broken.paths['/v1/stats'].get.responses['200'].content['application/json'].schema = {
      $ref: '#/components/schemas/Nope',
    };
    expect(openApi30Problems(broken)).toEqual(
      expect.arrayContaining([
        'GET /v1/incidents/{id}: path parameter id is not declared',
        'components.schemas.Incident.properties.status: const is not an OpenAPI 3.0 keyword',
        'components.schemas.Incident.properties.status: type must be one of string, number, integer, boolean, array, object',
        'GET /v1/stats 200.application/json.schema: $ref #/components/schemas/Nope does not resolve',
      ]),
    );
  });

  it('lists every route, and no other', () => {
    const listed = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(listed.sort()).toEqual(ROUTES.map((route) => `${route.method} ${route.template}`).sort());
  });

  it('says which routes need a token, and describes the error body on each', () => {
    for (const route of ROUTES) {
      const operation = document.paths[route.template][route.method.toLowerCase()];
      expect(operation.security, route.template).toEqual(route.access === 'public' ? [] : [{ bearer: [] }]);
      if (route.access !== 'public') {
        expect(operation.responses['401'].content['application/json'].schema).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
    }
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('describes the event batch, the plans and the errors from the contract schemas', () => {
    const events = document.paths['/v1/events'].post.requestBody;
    expect(Object.keys(events.content).sort()).toEqual([
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
      'application/json',
    ]);
    expect(JSON.stringify(events.content['application/json'].schema)).toContain(
      '#/components/schemas/CloudEvent',
    );
    expect(
      document.components.schemas.CloudEvent.oneOf ?? document.components.schemas.CloudEvent.anyOf,
    ).toHaveLength(11);
    expect(document.components.schemas.Plan.required).toEqual(expect.arrayContaining(['signature', 'steps']));
    expect(document.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);
  });
});
