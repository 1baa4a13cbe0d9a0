import { z } from 'zod';
import { EVENT_SCHEMAS, FaultlineEvent } from './event-types.ts';
import { Notification } from './notification.ts';
import { PARSE_OUTPUTS } from './parse-output.ts';
import { Plan } from './plan.ts';
import { HostSnapshot } from './snapshot.ts';

/**
 * JSON Schemas (draft 2020-12) for people writing their own producers and consumers, generated
 * from the zod source by `npm run schemas` into `events/schema/<name>.schema.json`. Refinements
 * that JSON Schema cannot say (`hostid` matching `source`, the size limits) are in the descriptions.
 */
export const jsonSchemas = (): Record<string, unknown> => {
  const schemas: Record<string, unknown> = {};
  const add = (name: string, schema: z.ZodType, description: string): void => {
    schemas[name] = {
      $id: `https://faultline.dev/schema/${name}.schema.json`,
      title: name,
      description,
      ...z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }),
    };
  };
  for (const [type, schema] of Object.entries(EVENT_SCHEMAS)) {
    add(
      type,
      schema,
      `The ${type} CloudEvent. hostid must equal the host in source; an event is at most 64 KiB.`,
    );
  }
  add(
    'event',
    FaultlineEvent,
    'Any Faultline CloudEvent. A batch is an array of at most 500 events and 1 MiB.',
  );
  add(
    'plan',
    Plan,
    'A signed remediation plan: ECDSA P-256 over the canonical JSON of the plan without signature.',
  );
  add('notification', Notification, 'A notification as correlate enqueues it for notify.');
  add('snapshot', HostSnapshot, 'One snapshot of a host, as faultline-agent scan --json prints it.');
  for (const [tool, schema] of Object.entries(PARSE_OUTPUTS)) {
    add(`parse-${tool}`, schema, `What faultline-agent parse ${tool} prints.`);
  }
  return schemas;
};
