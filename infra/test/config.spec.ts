// Context parsing: defaults, validation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, stopTimeoutSeconds } from '../lib/config';

const load = (ctx: Record<string, unknown>) => loadConfig((k) => ctx[k]);

describe('config', () => {
  it('defaults', () => {
    const c = load({});
    assert.equal(c.prefix, 'StereoSpot');
    assert.equal(c.imageTag, 'latest');
    assert.equal(c.inference, false);
    assert.equal(c.videoWorkerGpu, true);
    assert.equal(c.shutdownGraceSeconds, 90);
    assert.equal(stopTimeoutSeconds(c), 100);
    assert.deepEqual(c.corsOrigins, ['*']);
    assert.equal(c.segmentSeconds, undefined);
  });

  it('inference implies a CPU video-worker unless told otherwise', () => {
    assert.equal(load({ inference: 'true' }).videoWorkerGpu, false);
    assert.equal(load({ inference: true, videoWorkerGpu: 'true' }).videoWorkerGpu, true);
  });

  it('parses strings from -c', () => {
    const c = load({ shutdownGraceSeconds: '60', corsOrigins: 'https://a.example, https://b.example', maxVideoWorkers: '8' });
    assert.equal(c.shutdownGraceSeconds, 60);
    assert.deepEqual(c.corsOrigins, ['https://a.example', 'https://b.example']);
    assert.equal(c.maxTasks.videoWorker, 8);
  });

  it('rejects a grace period Fargate cannot honour, bad booleans, bad numbers, bad names', () => {
    assert.throws(() => load({ shutdownGraceSeconds: '111' }), /exceeds Fargate's 120 s/);
    assert.doesNotThrow(() => load({ shutdownGraceSeconds: '110' }));
    assert.throws(() => load({ inference: 'yes' }), /expected true or false/);
    assert.throws(() => load({ maxMediaWorkers: '0' }), /outside 1\.\.20/);
    assert.throws(() => load({ maxMediaWorkers: '2.5' }), /expected an integer/);
    assert.throws(() => load({ prefix: 'stereo-spot' }), /letters\/digits/);
    assert.throws(() => load({ imageTag: 'a b' }), /not a valid image tag/);
  });
});
