import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { FaultlineFunction } from './faultline-function.ts';
import type { WorkQueue } from './work-queue.ts';

export interface AlarmThresholds {
  readonly deadLetterMessages: number;
  readonly oldestMessageAgeSeconds: number;
  readonly functionErrors: number;
  readonly functionThrottles: number;
  readonly rejectedEvents: number;
  readonly timeToVisibleP99Seconds: number;
  readonly periodMinutes: number;
}

/** Faultline's own metrics, as the functions write them (CloudWatch embedded metrics). */
export interface FaultlineMetrics {
  readonly namespace: string;
  /** `faultline_events_rejected_total`, published per function under the `service` dimension. */
  readonly eventsRejected: string;
  /** `faultline_ingest_to_visible_seconds`, written by correlate. */
  readonly ingestToVisible: string;
}

export interface OperationalAlarmsProps {
  readonly thresholds: AlarmThresholds;
  /** Where alarms go (an SNS topic, say); none: they show in the CloudWatch console only. */
  readonly action?: IAlarmAction;
}

/**
 * The alarms an operator of Faultline needs, applied the same way to every queue and function:
 * a message in a DLQ (its depth), a work queue falling behind (the age of its oldest message), a
 * function failing whole invocations, and a function throttled; and on Faultline's own metrics
 * (`watchFaultline`): events refused, at ingest and by correlate, and the time from ingest to an
 * event's effect being visible. Missing data is fine (an idle queue, no event refused).
 */
export class OperationalAlarms extends Construct {
  readonly alarms: Alarm[] = [];
  readonly #props: OperationalAlarmsProps;

  constructor(scope: Construct, id: string, props: OperationalAlarmsProps) {
    super(scope, id);
    this.#props = props;
  }

  watchQueue(name: string, workQueue: WorkQueue): void {
    const { thresholds } = this.#props;
    const period = Duration.minutes(thresholds.periodMinutes);
    this.#alarm(`${name}DeadLetters`, {
      description: `Faultline ${name}: messages in the dead-letter queue (read their reason attribute)`,
      metric: workQueue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period,
        statistic: 'Maximum',
      }),
      threshold: thresholds.deadLetterMessages,
    });
    this.#alarm(`${name}OldestMessage`, {
      description: `Faultline ${name}: the oldest message has waited too long (its consumer is stuck or failing)`,
      metric: workQueue.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
      threshold: thresholds.oldestMessageAgeSeconds,
    });
  }

  watchFunction(fn: FaultlineFunction): void {
    const { thresholds } = this.#props;
    const period = Duration.minutes(thresholds.periodMinutes);
    this.#alarm(`${capitalised(fn.name)}Errors`, {
      description: `Faultline ${fn.name}: invocations failed`,
      metric: fn.function.metricErrors({ period, statistic: 'Sum' }),
      threshold: thresholds.functionErrors,
    });
    this.#alarm(`${capitalised(fn.name)}Throttles`, {
      description: `Faultline ${fn.name}: invocations throttled`,
      metric: fn.function.metricThrottles({ period, statistic: 'Sum' }),
      threshold: thresholds.functionThrottles,
    });
  }

  /** Alarms on Faultline's own metrics: rejects at ingest and in correlate, and time to visible (p99). */
  watchFaultline(metrics: FaultlineMetrics): void {
    const { thresholds } = this.#props;
    const period = Duration.minutes(thresholds.periodMinutes);
    const ofService = (metricName: string, service: string, statistic: string): Metric =>
      new Metric({
        namespace: metrics.namespace,
        metricName,
        dimensionsMap: { service },
        period,
        statistic,
      });
    this.#alarm('IngestRejects', {
      description:
        'Faultline api: events refused at ingest (faultline_events_rejected_total by reason: an agent, a producer or a grant to fix)',
      metric: ofService(metrics.eventsRejected, 'api', 'Sum'),
      threshold: thresholds.rejectedEvents,
    });
    this.#alarm('CorrelateRejects', {
      description:
        'Faultline correlate: events dead-lettered with their reason (faultline_events_rejected_total by reason)',
      metric: ofService(metrics.eventsRejected, 'correlate', 'Sum'),
      threshold: thresholds.rejectedEvents,
    });
    this.#alarm('TimeToVisible', {
      description:
        'Faultline correlate: the 99th percentile from ingest to visible is too long (correlate falls behind)',
      metric: ofService(metrics.ingestToVisible, 'correlate', 'p99'),
      threshold: thresholds.timeToVisibleP99Seconds,
    });
  }

  #alarm(id: string, options: { description: string; metric: IMetric; threshold: number }): void {
    const alarm = new Alarm(this, id, {
      alarmDescription: options.description,
      metric: options.metric,
      threshold: options.threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (this.#props.action !== undefined) alarm.addAlarmAction(this.#props.action);
    this.alarms.push(alarm);
  }
}

const capitalised = (name: string): string => `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
