/**
 * A structural check of an OpenAPI 3.0 document, without a validator dependency: the fields the
 * specification requires, the parameters every path template names, unique operation ids, `$ref`s
 * that resolve, and schema objects that use only the keywords of OpenAPI 3.0's schema dialect
 * (no 3.1-only `const`, `type` arrays, `prefixItems`; `exclusiveMinimum` as a boolean). Answers
 * every problem found, with where.
 */

// biome-ignore lint/suspicious/noExplicitAny: walks an arbitrary JSON document
type Json = any;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const PARAMETER_LOCATIONS = new Set(['path', 'query', 'header', 'cookie']);
const STATUS = /^(?:[1-5](?:\d\d|XX)|default)$/;
const SCHEMA_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);

/** The keywords of the OpenAPI 3.0 Schema Object. */
const SCHEMA_KEYWORDS = new Set([
  'title',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'required',
  'enum',
  'type',
  'allOf',
  'oneOf',
  'anyOf',
  'not',
  'items',
  'properties',
  'additionalProperties',
  'description',
  'format',
  'default',
  'nullable',
  'discriminator',
  'readOnly',
  'writeOnly',
  'xml',
  'externalDocs',
  'example',
  'deprecated',
  '$ref',
]);

const isObject = (value: unknown): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const resolves = (document: Json, ref: string): boolean => {
  if (!ref.startsWith('#/')) return false;
  let node: Json = document;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isObject(node) || !(key in node)) return false;
    node = node[key];
  }
  return true;
};

const checkSchema = (document: Json, schema: Json, where: string, problems: string[]): void => {
  if (!isObject(schema)) {
    problems.push(`${where}: a schema is an object`);
    return;
  }
  for (const key of Object.keys(schema)) {
    if (!SCHEMA_KEYWORDS.has(key) && !key.startsWith('x-'))
      problems.push(`${where}: ${key} is not an OpenAPI 3.0 keyword`);
  }
  if (typeof schema.$ref === 'string' && !resolves(document, schema.$ref)) {
    problems.push(`${where}: $ref ${schema.$ref} does not resolve`);
  }
  if ('type' in schema && !(typeof schema.type === 'string' && SCHEMA_TYPES.has(schema.type))) {
    problems.push(`${where}: type must be one of ${[...SCHEMA_TYPES].join(', ')}`);
  }
  for (const key of ['exclusiveMinimum', 'exclusiveMaximum', 'nullable', 'uniqueItems']) {
    if (key in schema && typeof schema[key] !== 'boolean')
      problems.push(`${where}: ${key} must be a boolean`);
  }
  if ('pattern' in schema) {
    try {
      new RegExp(schema.pattern);
    } catch {
      problems.push(`${where}: pattern does not compile`);
    }
  }
  if ('required' in schema && !(Array.isArray(schema.required) && schema.required.length > 0)) {
    problems.push(`${where}: required must be a non-empty array`);
  }
  if ('enum' in schema && !(Array.isArray(schema.enum) && schema.enum.length > 0)) {
    problems.push(`${where}: enum must be a non-empty array`);
  }
  if (schema.type === 'array' && !('items' in schema)) problems.push(`${where}: an array schema needs items`);
  for (const key of ['allOf', 'oneOf', 'anyOf']) {
    if (key in schema) {
      if (!Array.isArray(schema[key])) problems.push(`${where}: ${key} must be an array`);
      else {
        for (const [index, entry] of (schema[key] as Json[]).entries()) {
          checkSchema(document, entry, `${where}.${key}[${index}]`, problems);
        }
      }
    }
  }
  if ('not' in schema) checkSchema(document, schema.not, `${where}.not`, problems);
  if ('items' in schema) checkSchema(document, schema.items, `${where}.items`, problems);
  if (isObject(schema.properties)) {
    for (const [name, property] of Object.entries(schema.properties)) {
      checkSchema(document, property, `${where}.properties.${name}`, problems);
    }
  }
  if (isObject(schema.additionalProperties)) {
    checkSchema(document, schema.additionalProperties, `${where}.additionalProperties`, problems);
  }
};

const checkContent = (document: Json, content: Json, where: string, problems: string[]): void => {
  if (!isObject(content) || Object.keys(content).length === 0) {
    problems.push(`${where}: content must map media types`);
    return;
  }
  for (const [type, media] of Object.entries(content)) {
    if (!/^[a-z]+\/[a-z0-9.+-]+$/.test(type)) problems.push(`${where}: ${type} is not a media type`);
    if (isObject(media) && 'schema' in media)
      checkSchema(document, media.schema, `${where}.${type}.schema`, problems);
  }
};

/** Every problem of `document` as an OpenAPI 3.0 document; empty when it is valid. */
export const openApi30Problems = (document: Json): string[] => {
  const problems: string[] = [];
  if (!isObject(document)) return ['the document is not an object'];
  if (typeof document.openapi !== 'string' || !/^3\.0\.\d+$/.test(document.openapi)) {
    problems.push('openapi must be 3.0.x');
  }
  if (
    !isObject(document.info) ||
    typeof document.info.title !== 'string' ||
    typeof document.info.version !== 'string'
  ) {
    problems.push('info needs a title and a version');
  }
  if (!isObject(document.paths)) return [...problems, 'paths is required'];
  const schemes = isObject(document.components?.securitySchemes) ? document.components.securitySchemes : {};
  for (const [name, schema] of Object.entries(
    isObject(document.components?.schemas) ? document.components.schemas : {},
  )) {
    checkSchema(document, schema, `components.schemas.${name}`, problems);
  }
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/')) problems.push(`${path}: a path starts with /`);
    if (!isObject(item)) {
      problems.push(`${path}: a path item is an object`);
      continue;
    }
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
    for (const method of METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (typeof operation.operationId === 'string') {
        if (operationIds.has(operation.operationId))
          problems.push(`${where}: duplicate operationId ${operation.operationId}`);
        operationIds.add(operation.operationId);
      }
      const parameters: Json[] = operation.parameters ?? [];
      const seen = new Set<string>();
      for (const parameter of parameters) {
        if (
          !isObject(parameter) ||
          typeof parameter.name !== 'string' ||
          !PARAMETER_LOCATIONS.has(parameter.in)
        ) {
          problems.push(`${where}: a parameter needs a name and a location`);
          continue;
        }
        const key = `${parameter.in}:${parameter.name}`;
        if (seen.has(key)) problems.push(`${where}: parameter ${key} twice`);
        seen.add(key);
        if (parameter.in === 'path' && parameter.required !== true)
          problems.push(`${where}: path parameter ${parameter.name} must be required`);
        if (parameter.in === 'path' && !templated.includes(parameter.name))
          problems.push(`${where}: ${parameter.name} is not in the path`);
        if ('schema' in parameter)
          checkSchema(document, parameter.schema, `${where} parameter ${parameter.name}`, problems);
        else problems.push(`${where}: parameter ${parameter.name} needs a schema`);
      }
      for (const name of templated) {
        if (!seen.has(`path:${name}`)) problems.push(`${where}: path parameter ${name} is not declared`);
      }
      if (operation.requestBody !== undefined) {
        checkContent(document, operation.requestBody.content, `${where} requestBody`, problems);
      }
      if (!isObject(operation.responses) || Object.keys(operation.responses).length === 0) {
        problems.push(`${where}: responses are required`);
        continue;
      }
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!STATUS.test(status)) problems.push(`${where}: ${status} is not a status`);
        if (!isObject(response) || typeof response.description !== 'string') {
          problems.push(`${where} ${status}: a response needs a description`);
          continue;
        }
        if ('content' in response) checkContent(document, response.content, `${where} ${status}`, problems);
      }
      for (const requirement of operation.security ?? []) {
        for (const scheme of Object.keys(requirement)) {
          if (!(scheme in schemes)) problems.push(`${where}: security scheme ${scheme} is not defined`);
        }
      }
    }
  }
  return problems;
};
