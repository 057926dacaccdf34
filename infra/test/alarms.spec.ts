// Alarms: DLQ depth > 0, oldest-message age, job failures; all notify the SNS topic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { JOB_FAILED_PATTERN } from '../lib/alarms';
import { repoRoot } from '../lib/contract';
import { logicalId, synth, template } from './fixtures';

type Res = Record<string, any>;
const t = template('Compute');
const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties as Res);
const topicId = logicalId(t, 'AWS::SNS::Topic', 'AlarmsTopic');
const toTopic = alarms.filter((a) => (a.AlarmActions ?? []).some((x: Res) => x.Ref === topicId));
const storage = synth().templates['StereoSpot-Storage'];
const queueExport = (prefix: string): string => {
  const id = Object.keys(storage.Resources).find((k) => k.startsWith(prefix) && storage.Resources[k].Type === 'AWS::SQS::Queue');
  return `FnGetAtt${id}QueueName`;
};

describe('alarms', () => {
  for (const q of ['Chunking', 'VideoWorker', 'SegmentOutput', 'Reassembly']) {
    it(`${q}: DLQ depth > 0 and oldest message age`, () => {
      const dlq = toTopic.filter((a) => JSON.stringify(a.Dimensions ?? []).includes(queueExport(`${q}Dlq`)));
      assert.equal(dlq.length, 1);
      assert.equal(dlq[0].MetricName, 'ApproximateNumberOfMessagesVisible');
      assert.equal(dlq[0].ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(dlq[0].Threshold, 0);
      const age = toTopic.filter(
        (a) => a.MetricName === 'ApproximateAgeOfOldestMessage' && JSON.stringify(a.Dimensions).includes(queueExport(`${q}Queue`)),
      );
      assert.equal(age.length, 1);
      assert.ok(age[0].Threshold >= 1800, 'age threshold of at least 30 min');
    });
  }

  it('job failures: a metric filter per worker log group feeds one alarm', () => {
    const filters = Object.values(t.findResources('AWS::Logs::MetricFilter')).map((f) => f.Properties as Res);
    assert.equal(filters.length, 3);
    const workerGroups = Object.values(t.findResources('AWS::ECS::TaskDefinition')).map(
      (td) => td.Properties.ContainerDefinitions[0].LogConfiguration.Options['awslogs-group'].Ref,
    );
    assert.deepEqual(filters.map((f) => f.LogGroupName.Ref).sort(), workerGroups.sort());
    for (const f of filters) {
      assert.equal(f.FilterPattern, JOB_FAILED_PATTERN);
      assert.equal(f.MetricTransformations[0].MetricName, 'JobsFailed');
    }
    const failed = toTopic.filter((a) => a.MetricName === 'JobsFailed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0].Namespace, filters[0].MetricTransformations[0].MetricNamespace);
    assert.equal(failed[0].Threshold, 1);
    assert.equal(failed[0].ComparisonOperator, 'GreaterThanOrEqualToThreshold');
  });

  it('the job-failure pattern names the messages the workers log when they fail a job', () => {
    assert.equal(JOB_FAILED_PATTERN, '{ ($.message = "job failed") || ($.message = "still failing after*") }');
    // The Rust sources still log them (a reworded message would silently stop the alarm).
    const src = (f: string) => readFileSync(resolve(repoRoot(), 'pipeline-core/src', f), 'utf8');
    assert.match(src('worker/run_loop.rs'), /tracing::error!\([^;]*"job failed"\)/);
    assert.match(src('worker/sweeper.rs'), /tracing::error!\([^;]*"job failed"\)/);
    assert.match(src('worker/run_loop.rs'), /error!\([^;]*"still failing after \{\} receives/);
  });

  it('nine alarms notify the topic (4 DLQ, 4 age, 1 failures)', () => {
    assert.equal(toTopic.length, 9);
  });
});
