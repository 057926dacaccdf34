// Queue-depth scaling with a minimum of 0 tasks.
//
// The metric is the backlog: messages visible + in flight, summed over the service's queues.
// One step policy (ExactCapacity) maps backlog to tasks so that each task has at most
// `backlogPerTask` messages: tasks = ceil(backlog / backlogPerTask), capped at maxTasks. Its
// alarm (backlog > 0) stays in ALARM while work exists, and CloudWatch re-invokes Auto Scaling
// actions every period in ALARM, so the count follows the backlog up and down. A second policy
// sets 0 tasks after `idle` with an empty backlog. Steps work from 0 tasks, where target
// tracking on backlog-per-task has no tasks to divide by.
import { Duration } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_TASKS_LIMIT } from './config';

export interface BacklogScalingProps {
  readonly target: appscaling.ScalableTarget;
  readonly queues: readonly sqs.IQueue[];
  readonly backlogPerTask: number;
  readonly maxTasks: number;
  /** Empty backlog for this long scales to 0. */
  readonly idle: Duration;
}

/** Half a message: backlog values are whole numbers, so `> 0.5` means `>= 1`. */
const THRESHOLD = 0.5;

/** Step bounds relative to THRESHOLD: step k (1-based) covers backlog in [(k-1)B+1, kB]. */
export function backlogSteps(backlogPerTask: number, maxTasks: number): appscaling.AdjustmentTier[] {
  if (!Number.isInteger(backlogPerTask) || backlogPerTask < 1) throw new Error(`backlogPerTask ${backlogPerTask} < 1`);
  if (!Number.isInteger(maxTasks) || maxTasks < 1 || maxTasks > MAX_TASKS_LIMIT) {
    throw new Error(`maxTasks ${maxTasks} outside 1..${MAX_TASKS_LIMIT}`);
  }
  const steps: appscaling.AdjustmentTier[] = [];
  for (let k = 1; k <= maxTasks; k++) {
    steps.push({
      adjustment: k,
      lowerBound: (k - 1) * backlogPerTask,
      upperBound: k === maxTasks ? undefined : k * backlogPerTask,
    });
  }
  return steps;
}

export function backlogMetric(queues: readonly sqs.IQueue[]): cloudwatch.MathExpression {
  const usingMetrics: Record<string, cloudwatch.IMetric> = {};
  const terms: string[] = [];
  queues.forEach((q, i) => {
    usingMetrics[`visible${i}`] = q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' });
    usingMetrics[`inflight${i}`] = q.metricApproximateNumberOfMessagesNotVisible({ period: Duration.minutes(1), statistic: 'Maximum' });
    terms.push(`visible${i}`, `inflight${i}`);
  });
  return new cloudwatch.MathExpression({
    expression: terms.join(' + '),
    usingMetrics,
    label: 'backlog (visible + in flight)',
    period: Duration.minutes(1),
  });
}

export class BacklogScaling extends Construct {
  readonly scaleOutAlarm: cloudwatch.Alarm;
  readonly scaleToZeroAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: BacklogScalingProps) {
    super(scope, id);
    const metric = backlogMetric(props.queues);

    const follow = new appscaling.StepScalingAction(this, 'FollowBacklog', {
      scalingTarget: props.target,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      cooldown: Duration.minutes(1),
    });
    for (const step of backlogSteps(props.backlogPerTask, props.maxTasks)) follow.addAdjustment(step);
    this.scaleOutAlarm = new cloudwatch.Alarm(this, 'BacklogAlarm', {
      alarmDescription: `Backlog present: run ceil(backlog / ${props.backlogPerTask}) tasks (max ${props.maxTasks})`,
      metric,
      threshold: THRESHOLD,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.scaleOutAlarm.addAlarmAction(new cwActions.ApplicationScalingAction(follow));

    const toZero = new appscaling.StepScalingAction(this, 'ScaleToZero', {
      scalingTarget: props.target,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      cooldown: Duration.minutes(1),
    });
    toZero.addAdjustment({ adjustment: 0, upperBound: 0 });
    const idleMinutes = Math.max(1, Math.round(props.idle.toMinutes()));
    this.scaleToZeroAlarm = new cloudwatch.Alarm(this, 'IdleAlarm', {
      alarmDescription: `No backlog for ${idleMinutes} min: scale to 0 tasks`,
      metric,
      threshold: THRESHOLD,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: idleMinutes,
      datapointsToAlarm: idleMinutes,
      // An idle queue stops publishing metrics: no data means no backlog.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.scaleToZeroAlarm.addAlarmAction(new cwActions.ApplicationScalingAction(toZero));
  }
}
