// Tables: key schemas, GSIs, TTL, billing, point-in-time recovery.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logicalId, template } from './fixtures';

const storage = template('Storage');
const table = (p: string) => storage.findResources('AWS::DynamoDB::Table')[logicalId(storage, 'AWS::DynamoDB::Table', p)];

describe('storage: tables', () => {
  it('Jobs: PK job_id (S), GSIs status-created_at and status-completed_at (S/N, all attributes), PITR', () => {
    const t = table('JobsTable');
    assert.deepEqual(t.Properties.KeySchema, [{ AttributeName: 'job_id', KeyType: 'HASH' }]);
    const types = Object.fromEntries(t.Properties.AttributeDefinitions.map((a: any) => [a.AttributeName, a.AttributeType]));
    assert.deepEqual(types, { job_id: 'S', status: 'S', created_at: 'N', completed_at: 'N' });
    const gsis = t.Properties.GlobalSecondaryIndexes.map((g: any) => [g.IndexName, g.KeySchema, g.Projection.ProjectionType]);
    assert.deepEqual(gsis, [
      ['status-created_at', [{ AttributeName: 'status', KeyType: 'HASH' }, { AttributeName: 'created_at', KeyType: 'RANGE' }], 'ALL'],
      ['status-completed_at', [{ AttributeName: 'status', KeyType: 'HASH' }, { AttributeName: 'completed_at', KeyType: 'RANGE' }], 'ALL'],
    ]);
    assert.deepEqual(t.Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
    assert.equal(t.Properties.TimeToLiveSpecification, undefined);
  });

  it('SegmentCompletions: PK job_id (S), SK segment_index (N)', () => {
    const t = table('SegmentCompletionsTable');
    assert.deepEqual(t.Properties.KeySchema, [
      { AttributeName: 'job_id', KeyType: 'HASH' },
      { AttributeName: 'segment_index', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(t.Properties.AttributeDefinitions, [
      { AttributeName: 'job_id', AttributeType: 'S' },
      { AttributeName: 'segment_index', AttributeType: 'N' },
    ]);
    assert.equal(t.Properties.GlobalSecondaryIndexes, undefined);
  });

  it('ReassemblyTriggered: PK job_id (S), TTL on ttl', () => {
    const t = table('ReassemblyTriggeredTable');
    assert.deepEqual(t.Properties.KeySchema, [{ AttributeName: 'job_id', KeyType: 'HASH' }]);
    assert.deepEqual(t.Properties.TimeToLiveSpecification, { AttributeName: 'ttl', Enabled: true });
  });

  it('all tables are on-demand, encrypted, and retained on stack deletion', () => {
    const tables = Object.values(storage.findResources('AWS::DynamoDB::Table'));
    assert.equal(tables.length, 3);
    for (const t of tables) {
      assert.equal(t.Properties.BillingMode, 'PAY_PER_REQUEST');
      assert.equal(t.Properties.SSESpecification.SSEEnabled, true);
      assert.equal(t.DeletionPolicy, 'Retain');
    }
  });
});
