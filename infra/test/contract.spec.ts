// Contract: the env-var names the Rust workers read (env_names.rs, parsed here) are exactly those
// the stacks set, with resource values by reference. Negative cases prove the checker bites.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { checkContract, ENV_NAMES_RS, parseEnvNamesRs, readRustEnvNames, repoRoot } from '../lib/contract';
import { ENV, RESOURCE_VARS } from '../lib/generated/env-names';
import { Templates } from '../lib/templates';
import { synth, Variant } from './fixtures';

type Res = Record<string, any>;
const rust = readRustEnvNames();

function clone(variant: Variant = 'default'): Templates {
  return JSON.parse(JSON.stringify(synth(variant).templates)) as Templates;
}

function container(t: Templates, worker: string): Res {
  const td = Object.values(t['StereoSpot-Compute'].Resources).find(
    (r) => r.Type === 'AWS::ECS::TaskDefinition' && r.Properties.ContainerDefinitions[0].Name === worker,
  )!;
  return td.Properties.ContainerDefinitions[0];
}

describe('contract: env_names.rs <-> stacks', () => {
  it('env_names.rs declares the nine resource variables', () => {
    assert.deepEqual(rust.resourceVars, [
      'INPUT_BUCKET',
      'OUTPUT_BUCKET',
      'CHUNKING_QUEUE_URL',
      'VIDEO_WORKER_QUEUE_URL',
      'SEGMENT_OUTPUT_QUEUE_URL',
      'REASSEMBLY_QUEUE_URL',
      'JOBS_TABLE',
      'SEGMENT_COMPLETIONS_TABLE',
      'REASSEMBLY_TRIGGERED_TABLE',
    ]);
  });

  it('the generated TypeScript names are exactly the Rust ones (run `npm run build` after editing the Rust file)', () => {
    assert.deepEqual(Object.values(ENV), rust.names);
    assert.deepEqual([...RESOURCE_VARS], rust.resourceVars);
  });

  for (const variant of ['default', 'cpu', 'inference'] as Variant[]) {
    it(`${variant}: every service container has all resource vars, only declared names, values by reference`, () => {
      assert.deepEqual(checkContract(synth(variant).templates, rust), []);
    });
  }

  it('every name a container sets is declared, and the set is what the workers need', () => {
    const t = synth('default').templates;
    const names = (w: string) => container(t, w).Environment.map((e: Res) => e.Name).sort();
    const base = [...rust.resourceVars, 'LOG_FORMAT', 'SHUTDOWN_GRACE_SECONDS'];
    assert.deepEqual(names('media-worker'), [...base].sort());
    assert.deepEqual(names('reassembler'), [...base, 'SWEEP_STALL_SECONDS'].sort());
    assert.deepEqual(names('video-worker'), [...base, 'INFERENCE_BACKEND', 'DEPTH_DEVICE', 'AWS_REGION'].sort());
    assert.deepEqual(container(t, 'video-worker').Secrets.map((s: Res) => s.Name), ['HF_TOKEN']);
  });

  describe('the checker catches', () => {
    it('a missing resource variable', () => {
      const t = clone();
      const c = container(t, 'media-worker');
      c.Environment = c.Environment.filter((e: Res) => e.Name !== 'JOBS_TABLE');
      assert.deepEqual(checkContract(t, rust), [
        'StereoSpot-Compute/' + serviceOf(t, 'media-worker') + ' container media-worker: missing resource variable JOBS_TABLE',
      ]);
    });

    it('an undeclared name', () => {
      const t = clone();
      container(t, 'reassembler').Environment.push({ Name: 'REASSEMBLER_QUEUE', Value: 'x' });
      const errors = checkContract(t, rust);
      assert.equal(errors.length, 1);
      assert.match(errors[0], /sets REASSEMBLER_QUEUE, which .*env_names\.rs does not declare/);
    });

    it('a hand-typed value', () => {
      const t = clone();
      const e = container(t, 'video-worker').Environment.find((x: Res) => x.Name === 'INPUT_BUCKET');
      e.Value = 'stereospot-input-123456789012-eu-west-1';
      const errors = checkContract(t, rust);
      assert.equal(errors.length, 1);
      assert.match(errors[0], /INPUT_BUCKET is "stereospot-input-.*", not a reference to a AWS::S3::Bucket/);
    });

    it('a reference to the wrong kind of resource or the wrong queue', () => {
      const t = clone();
      const env = container(t, 'reassembler').Environment as Res[];
      const get = (n: string): Res => env.find((x) => x.Name === n)!;
      get('JOBS_TABLE').Value = get('INPUT_BUCKET').Value;
      get('CHUNKING_QUEUE_URL').Value = get('REASSEMBLY_QUEUE_URL').Value;
      const errors = checkContract(t, rust);
      assert.equal(errors.length, 2);
      assert.match(errors[0], /CHUNKING_QUEUE_URL refers to StereoSpot-Storage\/ReassemblyQueue.*the stack output names StereoSpot-Storage\/ChunkingQueue/);
      assert.match(errors[1], /JOBS_TABLE refers to AWS::S3::Bucket.Ref .*expected AWS::DynamoDB::Table.Ref/);
    });

    it('a variable the Rust side no longer declares', () => {
      const text = readFileSync(resolve(repoRoot(), ENV_NAMES_RS), 'utf8').replace(/^pub const LOG_FORMAT.*$/m, '');
      const errors = checkContract(synth('default').templates, parseEnvNamesRs(text));
      assert.equal(errors.length, 3, errors.join('\n'));
      for (const e of errors) assert.match(e, /sets LOG_FORMAT, which/);
    });

    it('a malformed env_names.rs', () => {
      assert.throws(() => parseEnvNamesRs('pub const A: &str = "B";\npub const RESOURCE_VARS: &[&str] = &[A];'), /differ/);
      assert.throws(() => parseEnvNamesRs('pub const A: &str = "A";\npub const RESOURCE_VARS: &[&str] = &[A, C];'), /undeclared C/);
      assert.throws(() => parseEnvNamesRs('pub const A: &str = "A";'), /no RESOURCE_VARS/);
    });
  });
});

function serviceOf(t: Templates, worker: string): string {
  const compute = t['StereoSpot-Compute'].Resources;
  const tdId = Object.keys(compute).find(
    (k) => compute[k].Type === 'AWS::ECS::TaskDefinition' && compute[k].Properties.ContainerDefinitions[0].Name === worker,
  );
  return Object.keys(compute).find((k) => compute[k].Type === 'AWS::ECS::Service' && compute[k].Properties.TaskDefinition.Ref === tdId)!;
}
