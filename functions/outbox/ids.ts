import { createHash } from 'node:crypto';
import type { CoreInput } from '../core/index.ts';
import { DecisionCorruptError } from './errors.ts';

/**
 * Decision ids are derived from what was decided on, never drawn at random, so a redelivered
 * event, a re-sent operator command, a follow-up drained twice or a timer fired by two processes
 * finds the record of the first and is not decided twice.
 */

const digest = (...parts: readonly (string | number)[]): string =>
  createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

/** An event (by its sender and id: ids are unique per agent), or an operator command (by its id). */
export const inputDecisionId = (input: CoreInput): string => {
  if (input.type.startsWith('operator.')) return `dec-op-${digest('operator', (input as { id: string }).id)}`;
  if (input.type.startsWith('internal.')) return `dec-in-${digest('internal', JSON.stringify(input))}`;
  const event = input as { hostid: string; id: string };
  return `dec-ev-${digest('event', event.hostid, event.id)}`;
};

/** The `index`th effect of a decision, when it is a follow-up input. */
export const followUpDecisionId = (parentId: string, index: number): string =>
  `dec-fu-${digest('follow-up', parentId, index)}`;

/** A timer fired on a slice at one of its versions: a later version is a later timer. */
export const tickDecisionId = (kind: 'domain' | 'host', id: string, version: number): string =>
  `dec-tk-${digest('tick', kind, id, version)}`;

/** The lock token of one attempt of a decision. */
export const lockToken = (decisionId: string, attempt: number): string => `${decisionId}#${attempt}`;

export const parseLockToken = (token: string): { decisionId: string; attempt: number } => {
  const at = token.lastIndexOf('#');
  const attempt = Number(token.slice(at + 1));
  if (at <= 0 || !Number.isInteger(attempt) || attempt < 1) {
    throw new DecisionCorruptError(`not a lock token: ${JSON.stringify(token)}`);
  }
  return { decisionId: token.slice(0, at), attempt };
};
