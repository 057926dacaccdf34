// Buckets: notifications, lifecycle, CORS, encryption, public access, TLS-only policies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { logicalId, template } from './fixtures';

const storage = template('Storage');
const bucketId = (p: string): string => logicalId(storage, 'AWS::S3::Bucket', p);
const queueId = (p: string): string => logicalId(storage, 'AWS::SQS::Queue', p);
const bucket = (p: string) => storage.findResources('AWS::S3::Bucket')[bucketId(p)];

describe('storage: buckets', () => {
  it('input bucket notifies input/* (any container) -> chunking queue and segments/ -> video-worker queue', () => {
    const configs = bucket('InputBucket').Properties.NotificationConfiguration.QueueConfigurations;
    assert.deepEqual(configs, [
      {
        Event: 's3:ObjectCreated:*',
        Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'input/' }] } },
        Queue: { 'Fn::GetAtt': [queueId('ChunkingQueue'), 'Arn'] },
      },
      {
        Event: 's3:ObjectCreated:*',
        Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'segments/' }] } },
        Queue: { 'Fn::GetAtt': [queueId('VideoWorkerQueue'), 'Arn'] },
      },
    ]);
  });

  it('output bucket notifies jobs/*.mp4 (segments; final.mp4 is ignored by the reassembler) -> segment-output queue', () => {
    const configs = bucket('OutputBucket').Properties.NotificationConfiguration.QueueConfigurations;
    assert.deepEqual(configs, [
      {
        Event: 's3:ObjectCreated:*',
        Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'jobs/' }, { Name: 'suffix', Value: '.mp4' }] } },
        Queue: { 'Fn::GetAtt': [queueId('SegmentOutputQueue'), 'Arn'] },
      },
    ]);
  });

  it('buckets are created after the queue policies that let them notify', () => {
    const policies = Object.keys(storage.findResources('AWS::SQS::QueuePolicy'));
    const input = bucket('InputBucket').DependsOn;
    assert.deepEqual([...input].sort(), policies.filter((p) => /^(Chunking|VideoWorker)QueuePolicy/.test(p)).sort());
    assert.deepEqual(bucket('OutputBucket').DependsOn, policies.filter((p) => /^SegmentOutputQueuePolicy/.test(p)));
  });

  it('output segments expire after 1 day and kept depth after 30, by tag; nothing else under jobs/ (final.mp4) expires', () => {
    const rules = bucket('OutputBucket').Properties.LifecycleConfiguration.Rules;
    const expiring = rules.filter((r: { ExpirationInDays?: number }) => r.ExpirationInDays !== undefined);
    assert.deepEqual(expiring, [
      {
        Id: 'ExpireOutputSegments',
        Prefix: 'jobs/',
        TagFilters: [{ Key: 'stereospot-kind', Value: 'segment' }],
        ExpirationInDays: 1,
        Status: 'Enabled',
      },
      {
        Id: 'ExpireKeptDepth',
        Prefix: 'jobs/',
        TagFilters: [{ Key: 'stereospot-kind', Value: 'depth' }],
        ExpirationInDays: 30,
        Status: 'Enabled',
      },
    ]);
  });

  it('output bucket allows browser playback (GET/HEAD with Range) via CORS', () => {
    const [rule] = bucket('OutputBucket').Properties.CorsConfiguration.CorsRules;
    assert.deepEqual(rule.AllowedMethods, ['GET', 'HEAD']);
    assert.ok(rule.AllowedHeaders.includes('Range'));
    assert.ok(rule.ExposedHeaders.includes('Content-Range') && rule.ExposedHeaders.includes('Accept-Ranges'));
  });

  for (const name of ['InputBucket', 'OutputBucket', 'AccessLogsBucket']) {
    it(`${name}: encrypted, public access blocked, TLS-only policy`, () => {
      const props = bucket(name).Properties;
      assert.equal(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
      assert.deepEqual(props.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      storage.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId(name) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });
  }

  it('pipeline buckets log access to the access-log bucket', () => {
    for (const name of ['InputBucket', 'OutputBucket']) {
      assert.deepEqual(bucket(name).Properties.LoggingConfiguration.DestinationBucketName, { Ref: bucketId('AccessLogsBucket') });
    }
  });

  it('pipeline buckets keep their data when the stack is deleted', () => {
    assert.equal(bucket('InputBucket').DeletionPolicy, 'Retain');
    assert.equal(bucket('OutputBucket').DeletionPolicy, 'Retain');
  });
});
