import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * The table of notify's delivery log (functions/notify/dynamodb-delivery-log.ts): one item per
 * incident and destination under the partition key `pk` (string), no sort key, no index; DynamoDB's
 * TTL removes an item some time after its `expiresAt` (epoch seconds), while the adapter treats an
 * item past it as absent in its own write condition, since TTL deletes only eventually.
 */
export const DELIVERY_LOG_TABLE = {
  partitionKey: 'pk',
  timeToLiveAttribute: 'expiresAt',
} as const;

/**
 * The item calls the delivery log makes, and no more: a consistent read and a conditional put of
 * one item (a test holds this list to the adapter's calls). No update, delete, query, scan, batch,
 * transaction or table management.
 */
export const DELIVERY_LOG_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem'] as const;

/**
 * notify's delivery log in DynamoDB, so that a redelivered or retried record never pages twice
 * whichever instance takes it (docs/architecture.md §6 "Notifications"): on demand (its load follows
 * the pages), point-in-time recovery, encrypted with the AWS-managed key, deletion protection on and
 * retained with the stack, as the store's tables are: the log of what went out is data too.
 */
export class DeliveryLogTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: DELIVERY_LOG_TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      timeToLiveAttribute: DELIVERY_LOG_TABLE.timeToLiveAttribute,
    });
  }

  /** Lets `grantee` read and write single items of this table, and nothing else. */
  grantDeliveries(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...DELIVERY_LOG_ACTIONS], resources: [this.table.tableArn] }),
    );
  }
}
