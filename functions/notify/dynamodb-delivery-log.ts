import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isTransientSdkError, messageOf, sdkErrorName } from '../adapters/errors.ts';
import {
  DELIVERY_RETENTION_MS,
  type DeliveryLane,
  type LaneChange,
  LaneDeliveryLog,
  type LaneId,
  laneExpiresAt,
  nowInSeconds,
} from './delivery-log.ts';
import { DeliveryLogRejectedError, DeliveryLogUnavailableError } from './errors.ts';

/**
 * The delivery log in DynamoDB, for notify on Lambda: one item per incident and destination (a
 * lane, delivery-log.ts) in a table of its own whose only key is the partition key `pk` (string),
 * with DynamoDB's TTL on `expiresAt` (epoch seconds). The table is made by the CDK app, which
 * passes its name as `FAULTLINE_NOTIFY_DELIVERY_LOG=dynamodb:<table>`.
 *
 * Every change of a lane is a strongly consistent read and a conditional put of the whole item:
 * - when the lane was read, the put requires the `revision` it had (so a claim that lost a race to
 *   another consumer is decided again on the lane that won, and a lease is never handed out twice);
 * - when it was absent or expired, the put requires it to be still absent or expired,
 *   `attribute_not_exists(pk) OR expiresAt < :now`. TTL deletes an expired item only eventually
 *   (within days), and dynalite, the emulator of the tests, never does: so expiry is enforced here,
 *   in the condition, and a read treats an expired item as absent.
 * No transactions (dynalite has none, and they cost double). A lost race is read again, a few
 * times; a lane that keeps changing is `DeliveryLogUnavailableError` (notify retries the record).
 * Throttling, 5xx and network failures are `DeliveryLogUnavailableError` (retryable), as for the
 * store (functions/adapters/store/dynamodb/table-client.ts); a request the table refuses for good
 * (no such table, access denied, an invalid item) is `DeliveryLogRejectedError`.
 */

/** How often a change of one lane is decided again after losing a race, before giving up. */
const MAX_LOST_RACES = 5;
const LANE_PREFIX = 'lane';

interface LaneItem {
  readonly pk: string;
  readonly deliveredSequence: number;
  /** Absent on an item written before lapsed holders were remembered, and while it is 0. */
  readonly lapsedSequence?: number;
  readonly delivered: readonly string[];
  readonly holderNotification?: string;
  readonly holderToken?: string;
  readonly holderSequence?: number;
  readonly leaseUntil?: number;
  readonly waitingSequence?: number;
  readonly waitingUntil?: number;
  readonly at: number;
  readonly expiresAt: number;
  readonly revision: number;
}

const partitionKey = (lane: LaneId): string => `${LANE_PREFIX}#${lane.destination}#${lane.incidentId}`;

const laneOfItem = (item: LaneItem): DeliveryLane => ({
  deliveredSequence: item.deliveredSequence,
  lapsedSequence: item.lapsedSequence ?? 0,
  delivered: item.delivered,
  holder:
    item.holderNotification === undefined || item.holderToken === undefined || item.leaseUntil === undefined
      ? undefined
      : {
          notificationId: item.holderNotification,
          sequence: item.holderSequence,
          token: item.holderToken,
          leaseUntil: item.leaseUntil,
        },
  waiting:
    item.waitingSequence === undefined || item.waitingUntil === undefined
      ? undefined
      : { sequence: item.waitingSequence, until: item.waitingUntil },
  at: item.at,
});

const isConditionFailure = (error: unknown): boolean =>
  sdkErrorName(error) === 'ConditionalCheckFailedException';

const wrap = (what: string, error: unknown): Error => {
  const detail = `${what}: ${sdkErrorName(error)}: ${messageOf(error)}`;
  return isTransientSdkError(error)
    ? new DeliveryLogUnavailableError(detail, { cause: error })
    : new DeliveryLogRejectedError(detail, { cause: error });
};

export class DynamoDbDeliveryLog extends LaneDeliveryLog {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(client: DynamoDBClient, tableName: string, options: { retentionMs?: number } = {}) {
    super(options.retentionMs ?? DELIVERY_RETENTION_MS);
    this.#tableName = tableName;
    this.#documents = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
  }

  protected async changeLane<T>(
    lane: LaneId,
    now: number | undefined,
    change: (current: DeliveryLane | undefined) => LaneChange<T>,
  ): Promise<T> {
    const pk = partitionKey(lane);
    for (let race = 0; race < MAX_LOST_RACES; race += 1) {
      const item = await this.#read(pk);
      const live = item !== undefined && (now === undefined || item.expiresAt >= nowInSeconds(now));
      const { answer, next } = change(live ? laneOfItem(item) : undefined);
      if (next === undefined) return answer;
      const written = await this.#write(
        pk,
        next,
        (item?.revision ?? 0) + 1,
        live || now === undefined ? { revision: item?.revision } : { expiredBy: nowInSeconds(now) },
      );
      if (written) return answer;
    }
    throw new DeliveryLogUnavailableError(
      `the lane of ${lane.incidentId} to ${lane.destination} kept changing under ${MAX_LOST_RACES} tries`,
    );
  }

  async #read(pk: string): Promise<LaneItem | undefined> {
    try {
      const answer = await this.#documents.send(
        new GetCommand({ TableName: this.#tableName, Key: { pk }, ConsistentRead: true }),
      );
      return answer.Item as LaneItem | undefined;
    } catch (error) {
      throw wrap(`reading ${pk}`, error);
    }
  }

  /**
   * Puts the lane unless it changed since it was read: the same `revision` (`undefined`: it was
   * absent), or, for a lane read as absent or expired, still absent or expired by `expiredBy`.
   * False when another change came first.
   */
  async #write(
    pk: string,
    lane: DeliveryLane,
    revision: number,
    expected: { readonly revision: number | undefined } | { readonly expiredBy: number },
  ): Promise<boolean> {
    const item: LaneItem = {
      pk,
      deliveredSequence: lane.deliveredSequence,
      ...(lane.lapsedSequence === 0 ? {} : { lapsedSequence: lane.lapsedSequence }),
      delivered: lane.delivered,
      ...(lane.holder === undefined
        ? {}
        : {
            holderNotification: lane.holder.notificationId,
            holderToken: lane.holder.token,
            leaseUntil: lane.holder.leaseUntil,
            ...(lane.holder.sequence === undefined ? {} : { holderSequence: lane.holder.sequence }),
          }),
      ...(lane.waiting === undefined
        ? {}
        : { waitingSequence: lane.waiting.sequence, waitingUntil: lane.waiting.until }),
      at: lane.at,
      expiresAt: laneExpiresAt(lane.at, this.retentionMs),
      revision,
    };
    const condition =
      'expiredBy' in expected
        ? {
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
            ExpressionAttributeValues: { ':now': expected.expiredBy },
          }
        : expected.revision === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: 'revision = :revision',
              ExpressionAttributeValues: { ':revision': expected.revision },
            };
    try {
      await this.#documents.send(new PutCommand({ TableName: this.#tableName, Item: item, ...condition }));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw wrap(`writing ${pk}`, error);
    }
  }
}
