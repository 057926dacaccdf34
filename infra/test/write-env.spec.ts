// make infra-env: stack outputs -> env file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCE_VARS } from '../lib/generated/env-names';
import { envOutputKey } from '../lib/names';
import { envLines } from '../scripts/write-env';
import { synth } from './fixtures';

describe('infra-env', () => {
  const outputs = RESOURCE_VARS.map((n) => ({ OutputKey: envOutputKey(n), OutputValue: `value-of-${n.toLowerCase()}` }));

  it('the storage stack publishes one output per resource variable under the expected key', () => {
    const storage = synth().templates['StereoSpot-Storage'];
    for (const n of RESOURCE_VARS) {
      assert.equal(storage.Outputs?.[envOutputKey(n)]?.Description, `env ${n}`, n);
    }
  });

  it('writes NAME=value for the prefix\'s stacks only, with the region', () => {
    const doc = {
      Stacks: [
        { StackName: 'StereoSpot-Storage', Outputs: [...outputs, { OutputKey: 'HfTokenSecretArn', OutputValue: 'arn:x' }] },
        { StackName: 'StereoSpot-Inference', Outputs: [{ OutputKey: 'EnvSAGEMAKERENDPOINTNAME', OutputValue: 'ep-1' }] },
        { StackName: 'Other-Storage', Outputs: [{ OutputKey: 'EnvINPUTBUCKET', OutputValue: 'wrong' }] },
      ],
    };
    const lines = envLines(doc, 'StereoSpot', 'eu-west-1');
    assert.equal(lines[1], 'AWS_REGION=eu-west-1');
    assert.ok(lines.includes('INPUT_BUCKET=value-of-input_bucket'));
    assert.ok(lines.includes('SAGEMAKER_ENDPOINT_NAME=ep-1'));
    assert.equal(lines.length, 2 + RESOURCE_VARS.length + 1);
    assert.ok(!lines.some((l) => l.includes('wrong') || l.includes('arn:x')));
  });

  it('fails naming the missing variables when the storage stack is absent', () => {
    assert.throws(() => envLines({ Stacks: [] }, 'StereoSpot'), /lack INPUT_BUCKET, OUTPUT_BUCKET/);
  });
});
