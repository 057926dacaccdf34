// Queues: visibility timeouts, DLQ wiring and retention, message size, encryption, policies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logicalId, template } from './fixtures';

const storage = template('Storage');
const queues = storage.findResources('AWS::SQS::Queue');
const policies = storage.findResources('AWS::SQS::QueuePolicy');
const queueId = (p: string): string => logicalId(storage, 'AWS::SQS::Queue', p);

const EXPECTED = [
  { name: 'Chunking', visibility: 15 * 60 },
  { name: 'VideoWorker', visibility: 30 * 60 },
  { name: 'SegmentOutput', visibility: 5 * 60 },
  { name: 'Reassembly', visibility: 10 * 60 },
];

function policyOf(queueLogicalId: string) {
  const found = Object.values(policies).filter((p) => p.Properties.Queues.some((q: { Ref: string }) => q.Ref === queueLogicalId));
  assert.equal(found.length, 1, `one policy for ${queueLogicalId}`);
  return found[0].Properties.PolicyDocument.Statement as Array<Record<string, any>>;
}

describe('storage: queues', () => {
  it('has exactly four work queues and four DLQs', () => {
    assert.equal(Object.keys(queues).length, 8);
  });

  for (const { name, visibility } of EXPECTED) {
    describe(`${name} queue`, () => {
      const id = queueId(`${name}Queue`);
      const dlqId = queueId(`${name}Dlq`);
      const q = queues[id].Properties;
      const dlq = queues[dlqId].Properties;

      it(`visibility timeout ${visibility} s`, () => assert.equal(q.VisibilityTimeout, visibility));

      it('redrives to its own DLQ after 3-5 receives; the DLQ keeps 14 days', () => {
        assert.deepEqual(q.RedrivePolicy.deadLetterTargetArn, { 'Fn::GetAtt': [dlqId, 'Arn'] });
        assert.ok(q.RedrivePolicy.maxReceiveCount >= 3 && q.RedrivePolicy.maxReceiveCount <= 5);
        assert.equal(dlq.MessageRetentionPeriod, 14 * 24 * 3600);
        assert.equal(dlq.RedrivePolicy, undefined);
      });

      it('accepts messages of at least 64 KiB, long-polls, is encrypted', () => {
        for (const p of [q, dlq]) {
          assert.ok(p.MaximumMessageSize >= 65536);
          assert.equal(p.SqsManagedSseEnabled, true);
        }
        assert.equal(q.ReceiveMessageWaitTimeSeconds, 20);
      });

      it('denies non-TLS access to the queue and its DLQ', () => {
        for (const qid of [id, dlqId]) {
          const deny = policyOf(qid).find((s) => s.Effect === 'Deny');
          assert.deepEqual(deny?.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
          assert.equal(deny?.Action, 'sqs:*');
        }
      });
    });
  }

  it('only the buckets may send, each only to its own notification queues', () => {
    const senders: Record<string, string | null> = {
      Chunking: 'stereospot-input-',
      VideoWorker: 'stereospot-input-',
      SegmentOutput: 'stereospot-output-',
      Reassembly: null,
    };
    for (const [name, bucketPrefix] of Object.entries(senders)) {
      const allows = policyOf(queueId(`${name}Queue`)).filter((s) => s.Effect === 'Allow');
      if (bucketPrefix === null) {
        assert.deepEqual(allows, [], `${name}: no resource-policy senders`);
        continue;
      }
      assert.equal(allows.length, 1, name);
      const [allow] = allows;
      assert.deepEqual(allow.Principal, { Service: 's3.amazonaws.com' });
      assert.equal(allow.Action, 'sqs:SendMessage');
      const arn = allow.Condition.ArnEquals['aws:SourceArn']['Fn::Join'][1];
      assert.equal(arn[2], `:s3:::${bucketPrefix}`, name);
      assert.deepEqual(allow.Condition.StringEquals, { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    }
  });

  it('the queue policies name exactly the buckets the notifications come from', () => {
    const buckets = storage.findResources('AWS::S3::Bucket');
    for (const [queue, bucketPrefix] of [['ChunkingQueue', 'InputBucket'], ['SegmentOutputQueue', 'OutputBucket']]) {
      const nameParts = buckets[logicalId(storage, 'AWS::S3::Bucket', bucketPrefix)].Properties.BucketName['Fn::Join'][1];
      const allow = policyOf(queueId(queue)).find((s) => s.Effect === 'Allow');
      const arnParts = allow?.Condition.ArnEquals['aws:SourceArn']['Fn::Join'][1];
      assert.equal(arnParts[2], `:s3:::${nameParts[0]}`);
      assert.deepEqual(arnParts.slice(3), nameParts.slice(1));
    }
  });
});
