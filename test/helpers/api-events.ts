import type { EventType } from '../../events/index.ts';
import { example } from './examples.ts';

/**
 * Builders of CloudEvents as an agent posts them to `POST /v1/events`, from the checked-in
 * examples of events/examples, re-addressed to the host a test needs.
 */

let counter = 0;

/** An event of `type` from `hostId` with a fresh id and seq; `overrides` replace top-level fields. */
// biome-ignore lint/suspicious/noExplicitAny: events are mutated freely by tests of invalid input
export const agentEvent = (type: EventType, hostId: string, overrides: Record<string, unknown> = {}): any => {
  counter += 1;
  return {
    ...example(type),
    id: `${hostId}:boot-1:${counter}`,
    source: `faultline-agent://${hostId}`,
    hostid: hostId,
    bootid: 'boot-1',
    seq: counter,
    ...overrides,
  };
};

/** `count` degraded-mirror events of `hostId`. */
// biome-ignore lint/suspicious/noExplicitAny: see agentEvent
export const degradedBatch = (hostId: string, count: number): any[] =>
  Array.from({ length: count }, () => agentEvent('mirror.degraded', hostId));
