// Operational alarms, all to one SNS topic: a dead-letter queue holds anything, a work queue's
// oldest message is too old, or a worker logged a job failure.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { QueueRole } from './names';
import { QUEUE_SETTINGS } from './schemas';
import { WorkQueue } from './storage-stack';

/**
 * The log lines (LOG_FORMAT=json, tracing's JSON with flattened event fields) the workers write
 * where they mark a job FAILED: `job failed` (pipeline-core/src/worker/run_loop.rs, job-permanent
 * errors; worker/sweeper.rs, stuck jobs) and `still failing after N receives; ...`
 * (worker/run_loop.rs, gave up before the DLQ).
 */
export const JOB_FAILED_MESSAGES = ['job failed', 'still failing after*'] as const;
export const JOB_FAILED_PATTERN = `{ ${JOB_FAILED_MESSAGES.map((m) => `($.message = "${m}")`).join(' || ')} }`;
export const JOBS_FAILED_METRIC = 'JobsFailed';

export interface PipelineAlarmsProps {
  readonly namespace: string;
  readonly queues: Record<QueueRole, WorkQueue>;
  readonly workerLogGroups: readonly logs.ILogGroup[];
  readonly email?: string;
}

export class PipelineAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: PipelineAlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'StereoSpot alarms', enforceSSL: true });
    if (props.email) this.topic.addSubscription(new subs.EmailSubscription(props.email));
    const action = new cwActions.SnsAction(this.topic);

    for (const [role, { queue, dlq }] of Object.entries(props.queues) as Array<[QueueRole, WorkQueue]>) {
      const name = role.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      this.add(
        new cloudwatch.Alarm(this, `${name}DlqNotEmpty`, {
          alarmDescription: `Messages in the ${role} dead-letter queue: inspect, fix, then redrive`,
          metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
        action,
      );
      const maxAge = QUEUE_SETTINGS[role].oldestMessageAlarm;
      this.add(
        new cloudwatch.Alarm(this, `${name}OldestMessage`, {
          alarmDescription: `The oldest ${role} message waited over ${maxAge.toMinutes()} min: workers stuck or not scaling`,
          metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
          threshold: maxAge.toSeconds(),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
        action,
      );
    }

    props.workerLogGroups.forEach((logGroup, i) => {
      new logs.MetricFilter(this, `JobFailedFilter${i}`, {
        logGroup,
        filterPattern: logs.FilterPattern.literal(JOB_FAILED_PATTERN),
        metricNamespace: props.namespace,
        metricName: JOBS_FAILED_METRIC,
        metricValue: '1',
      });
    });
    this.add(
      new cloudwatch.Alarm(this, 'JobFailures', {
        alarmDescription: 'A worker marked a job FAILED (its log: "job failed" or "still failing after ...")',
        metric: new cloudwatch.Metric({
          namespace: props.namespace,
          metricName: JOBS_FAILED_METRIC,
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      action,
    );
  }

  private add(alarm: cloudwatch.Alarm, action: cloudwatch.IAlarmAction): void {
    alarm.addAlarmAction(action);
    this.alarms.push(alarm);
  }
}
