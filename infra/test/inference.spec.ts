// Inference (optional): SageMaker model + endpoint config + endpoint; the video-worker switches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INFERENCE_AMI_VERSION } from '../lib/inference-stack';
import { buildPipeline } from '../lib/pipeline-app';
import { resolveRef } from '../lib/templates';
import { synth, template } from './fixtures';

type Res = Record<string, any>;

describe('inference (context inference=true)', () => {
  it('is absent by default', () => {
    assert.deepEqual(Object.keys(synth('default').templates).sort(), ['StereoSpot-Compute', 'StereoSpot-Images', 'StereoSpot-Storage']);
  });

  const t = template('Inference', 'inference');
  const { templates } = synth('inference');

  it('model runs the inference image tag, network-isolated, with its own execution role', () => {
    const [model] = Object.values(t.findResources('AWS::SageMaker::Model')).map((m) => m.Properties as Res);
    const image = JSON.stringify(model.PrimaryContainer.Image);
    assert.ok(image.includes('InferenceRepository') && image.endsWith(':latest"]]}'), image);
    assert.equal(model.EnableNetworkIsolation, true);
    assert.deepEqual(model.PrimaryContainer.Environment, { LOG_FORMAT: 'json', DEPTH_DEVICE: 'cuda' });
    const role = resolveRef(templates, 'StereoSpot-Inference', model.ExecutionRoleArn);
    assert.equal(role?.type, 'AWS::IAM::Role');
  });

  it('endpoint config: one ml.g4dn.xlarge instance on the CUDA 12 inference AMI; endpoint uses it', () => {
    const [cfg] = Object.values(t.findResources('AWS::SageMaker::EndpointConfig')).map((m) => m.Properties as Res);
    assert.equal(cfg.ProductionVariants.length, 1);
    const [v] = cfg.ProductionVariants;
    assert.equal(v.InstanceType, 'ml.g4dn.xlarge');
    assert.equal(v.InitialInstanceCount, 1);
    assert.equal(v.InferenceAmiVersion, INFERENCE_AMI_VERSION);
    const [endpoint] = Object.values(t.findResources('AWS::SageMaker::Endpoint')).map((m) => m.Properties as Res);
    assert.equal(resolveRef(templates, 'StereoSpot-Inference', endpoint.EndpointConfigName)?.type, 'AWS::SageMaker::EndpointConfig');
  });

  it('video-worker env: INFERENCE_BACKEND=sagemaker and the endpoint name by reference', () => {
    const compute = templates['StereoSpot-Compute'];
    const task = Object.values(compute.Resources).find(
      (r) => r.Type === 'AWS::ECS::TaskDefinition' && r.Properties.ContainerDefinitions[0].Name === 'video-worker',
    )!;
    const env = Object.fromEntries(task.Properties.ContainerDefinitions[0].Environment.map((e: Res) => [e.Name, e.Value]));
    assert.equal(env.INFERENCE_BACKEND, 'sagemaker');
    const ref = resolveRef(templates, 'StereoSpot-Compute', env.SAGEMAKER_ENDPOINT_NAME);
    assert.deepEqual([ref?.stack, ref?.type, ref?.attr], ['StereoSpot-Inference', 'AWS::SageMaker::Endpoint', 'EndpointName']);
    assert.equal(env.DEPTH_DEVICE, undefined);
  });

  it('an optional model artifact from S3, readable by the execution role only as that object', () => {
    const { app } = buildPipeline({ context: { inference: 'true', modelDataUrl: 's3://my-models/depth/model.tar.gz' } });
    const inf = app.synth().getStackByName('StereoSpot-Inference').template;
    const model = Object.values(inf.Resources as Res).find((r: Res) => r.Type === 'AWS::SageMaker::Model');
    assert.equal(model.Properties.PrimaryContainer.ModelDataUrl, 's3://my-models/depth/model.tar.gz');
    const statements = Object.values(inf.Resources as Res)
      .filter((r: Res) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r: Res) => r.Properties.PolicyDocument.Statement);
    const s3 = statements.filter((st: Res) => JSON.stringify(st.Action).includes('s3:'));
    assert.equal(s3.length, 1);
    assert.equal(s3[0].Action, 's3:GetObject');
    assert.deepEqual(s3[0].Resource['Fn::Join'][1].slice(-1), [':s3:::my-models/depth/model.tar.gz']);
    assert.throws(() => buildPipeline({ context: { inference: 'true', modelDataUrl: 'https://x/y' } }), /not s3:\/\/bucket\/key/);
  });

  it('default video-worker env: INFERENCE_BACKEND=local, no endpoint', () => {
    const compute = synth('default').templates['StereoSpot-Compute'];
    const task = Object.values(compute.Resources).find(
      (r) => r.Type === 'AWS::ECS::TaskDefinition' && r.Properties.ContainerDefinitions[0].Name === 'video-worker',
    )!;
    const names = task.Properties.ContainerDefinitions[0].Environment.map((e: Res) => e.Name);
    assert.ok(names.includes('INFERENCE_BACKEND') && !names.includes('SAGEMAKER_ENDPOINT_NAME'));
    const backend = task.Properties.ContainerDefinitions[0].Environment.find((e: Res) => e.Name === 'INFERENCE_BACKEND');
    assert.equal(backend.Value, 'local');
  });
});
