// shapes.ts output: what `smoke-test provision` must reproduce. The expected value is written out
// in full here so a change to the stacks shows up as a diff of this contract.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, extractShapes } from '../lib/shapes';
import { synth } from './fixtures';

const key = (name: string, type: string) => ({ name, type });

const EXPECTED = {
  buckets: {
    input: {
      notifications: [
        { event: 's3:ObjectCreated:*', prefix: 'input/', suffix: null, queue: 'chunking' },
        { event: 's3:ObjectCreated:*', prefix: 'segments/', suffix: null, queue: 'video-worker' },
      ],
    },
    output: { notifications: [{ event: 's3:ObjectCreated:*', prefix: 'jobs/', suffix: '.mp4', queue: 'segment-output' }] },
  },
  queues: {
    chunking: { visibility_timeout_seconds: 900, dlq_max_receive_count: 4 },
    'video-worker': { visibility_timeout_seconds: 1800, dlq_max_receive_count: 4 },
    'segment-output': { visibility_timeout_seconds: 300, dlq_max_receive_count: 4 },
    reassembly: { visibility_timeout_seconds: 600, dlq_max_receive_count: 4 },
  },
  tables: {
    jobs: {
      partition_key: key('job_id', 'S'),
      sort_key: null,
      gsis: [
        { name: 'status-completed_at', partition_key: key('status', 'S'), sort_key: key('completed_at', 'N'), projection: 'ALL' },
        { name: 'status-created_at', partition_key: key('status', 'S'), sort_key: key('created_at', 'N'), projection: 'ALL' },
      ],
      ttl_attribute: null,
    },
    'segment-completions': { partition_key: key('job_id', 'S'), sort_key: key('segment_index', 'N'), gsis: [], ttl_attribute: null },
    'reassembly-triggered': { partition_key: key('job_id', 'S'), sort_key: null, gsis: [], ttl_attribute: 'ttl' },
  },
};

describe('shapes', () => {
  it('extracts the tables, notifications and queues of the synthesized app', () => {
    assert.deepEqual(extractShapes(synth('default').templates), EXPECTED);
  });

  it('is the same with the inference stack', () => {
    assert.deepEqual(extractShapes(synth('inference').templates), EXPECTED);
  });

  it('prints canonical JSON: sorted keys at every level, stable', () => {
    const a = canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } });
    assert.equal(a, '{\n  "a": {\n    "c": null,\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n');
    const s = canonicalJson(extractShapes(synth('default').templates));
    assert.equal(s, canonicalJson(JSON.parse(s)));
    assert.ok(s.indexOf('"buckets"') < s.indexOf('"queues"') && s.indexOf('"queues"') < s.indexOf('"tables"'));
  });
});
