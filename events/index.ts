/**
 * The contract between agents, the control plane and people writing their own producers
 * (docs/architecture.md §3, §4, §6): zod schemas, their types, the parsers every consumer uses at its edge,
 * and plan signing. Pure: no I/O.
 */
export * from './api.ts';
export { ApiError, retryAfterMs } from './api-error.ts';
export { canonicalJson } from './canonical-json.ts';
export * from './event-types.ts';
export { jsonSchemas } from './json-schema.ts';
export * from './names.ts';
export * from './notification.ts';
export * from './parse.ts';
export * from './parse-output.ts';
export * from './plan.ts';
export * from './plan-lines.ts';
export * from './signing.ts';
export * from './snapshot.ts';
export * from './storage.ts';
