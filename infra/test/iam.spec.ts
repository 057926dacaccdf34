// IAM: each task role gets exactly the actions on exactly the resources it uses; the token is
// readable only by the video-worker's execution role.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveRef, Templates } from '../lib/templates';
import { synth, Variant } from './fixtures';

type Res = Record<string, any>;

/** Human label of a policy resource: logical id without its hash, plus any literal suffix. */
function label(templates: Templates, stack: string, value: unknown): string {
  if (typeof value === 'string') return value;
  const ref = resolveRef(templates, stack, value);
  if (ref) return ref.logicalId.replace(/[0-9A-F]{8}$/, '');
  const join = (value as Res)?.['Fn::Join'];
  if (join) return join[1].map((p: unknown) => label(templates, stack, p)).join(join[0]);
  return JSON.stringify(value);
}

/** "action resource" pairs granted to the role behind a task definition's `roleKey`. */
function grants(variant: Variant, worker: string, roleKey: 'TaskRoleArn' | 'ExecutionRoleArn' = 'TaskRoleArn'): string[] {
  const { templates } = synth(variant);
  const stack = 'StereoSpot-Compute';
  const t = templates[stack];
  const task = Object.values(t.Resources).find(
    (r) => r.Type === 'AWS::ECS::TaskDefinition' && r.Properties.ContainerDefinitions[0].Name === worker,
  )!;
  const roleId = task.Properties[roleKey]['Fn::GetAtt'][0];
  const role = t.Resources[roleId].Properties;
  assert.equal(role.ManagedPolicyArns, undefined, `${worker} ${roleKey} has no managed policies`);
  assert.equal(role.Policies, undefined);
  const out: string[] = [];
  for (const p of Object.values(t.Resources)) {
    if (p.Type !== 'AWS::IAM::Policy' || !p.Properties.Roles.some((r: Res) => r.Ref === roleId)) continue;
    for (const s of p.Properties.PolicyDocument.Statement) {
      assert.equal(s.Effect, 'Allow');
      assert.equal(s.Condition, undefined);
      const actions: string[] = [].concat(s.Action);
      const resources: unknown[] = [].concat(s.Resource);
      for (const a of actions) for (const r of resources) out.push(`${a} ${label(templates, stack, r)}`);
    }
  }
  return out.sort();
}

const consume = (queue: string): string[] =>
  ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'].map((a) => `${a} ${queue}`);
const write = (where: string): string[] => [`s3:AbortMultipartUpload ${where}`, `s3:PutObject ${where}`];

const EXPECTED: Record<string, string[]> = {
  'media-worker': [
    ...consume('ChunkingQueue'),
    's3:ListBucket InputBucket',
    's3:GetObject InputBucket/input/*',
    ...write('InputBucket/segments/*'),
    's3:DeleteObject InputBucket/segments/*',
    ...write('OutputBucket/jobs/*/thumbnail.jpg'),
    'dynamodb:GetItem JobsTable',
    'dynamodb:PutItem JobsTable',
    'dynamodb:UpdateItem JobsTable',
  ],
  'video-worker': [
    ...consume('VideoWorkerQueue'),
    's3:ListBucket InputBucket',
    's3:ListBucket OutputBucket',
    's3:GetObject InputBucket/segments/*',
    's3:GetObject OutputBucket/jobs/*/segments/*',
    ...write('OutputBucket/jobs/*/segments/*'),
    's3:DeleteObject OutputBucket/jobs/*/segments/*',
    's3:PutObjectTagging OutputBucket/jobs/*/segments/*',
    's3:GetObject OutputBucket/jobs/*/depth/*',
    ...write('OutputBucket/jobs/*/depth/*'),
    's3:DeleteObject OutputBucket/jobs/*/depth/*',
    's3:PutObjectTagging OutputBucket/jobs/*/depth/*',
    'dynamodb:GetItem JobsTable',
    'dynamodb:UpdateItem JobsTable',
  ],
  reassembler: [
    ...consume('SegmentOutputQueue'),
    ...consume('ReassemblyQueue'),
    'sqs:SendMessage ReassemblyQueue',
    'sqs:SendMessage VideoWorkerQueue',
    's3:ListBucket InputBucket',
    's3:ListBucket OutputBucket',
    's3:GetObject InputBucket/input/*',
    's3:GetObject InputBucket/segments/*',
    's3:GetObject OutputBucket/jobs/*/segments/*',
    's3:GetObject OutputBucket/jobs/*/final.mp4',
    ...write('OutputBucket/jobs/*/final.mp4'),
    's3:DeleteObject OutputBucket/jobs/*/final.mp4',
    'dynamodb:GetItem JobsTable',
    'dynamodb:UpdateItem JobsTable',
    'dynamodb:Query JobsTable/index/*',
    'dynamodb:PutItem SegmentCompletionsTable',
    'dynamodb:Query SegmentCompletionsTable',
    'dynamodb:PutItem ReassemblyTriggeredTable',
  ],
};

describe('iam: task roles (least privilege)', () => {
  for (const [worker, expected] of Object.entries(EXPECTED)) {
    it(`${worker}: exactly its actions on its resources`, () => {
      assert.deepEqual(grants('default', worker), [...expected].sort());
    });
  }

  it('with SageMaker, the video-worker may also invoke exactly the endpoint', () => {
    const g = grants('inference', 'video-worker');
    assert.deepEqual(g, [...EXPECTED['video-worker'], 'sagemaker:InvokeEndpoint Endpoint'].sort());
  });

  it('no role anywhere gets a wildcard action', () => {
    for (const variant of ['default', 'inference'] as Variant[]) {
      for (const [stack, t] of Object.entries(synth(variant).templates)) {
        for (const [id, r] of Object.entries(t.Resources)) {
          if (r.Type !== 'AWS::IAM::Policy') continue;
          for (const s of r.Properties.PolicyDocument.Statement) {
            for (const a of [].concat(s.Action) as string[]) assert.ok(!/^\*$|:\*$/.test(a), `${stack}/${id}: ${a}`);
          }
        }
      }
    }
  });
});

describe('iam: model-download token (HF_TOKEN)', () => {
  const secretReads = (variant: Variant, worker: string): string[] =>
    grants(variant, worker, 'ExecutionRoleArn').filter((g) => g.startsWith('secretsmanager:'));

  it('only the video-worker execution role may read it, and it receives it as a secret', () => {
    assert.deepEqual(secretReads('default', 'video-worker'), [
      'secretsmanager:DescribeSecret HfToken',
      'secretsmanager:GetSecretValue HfToken',
    ]);
    assert.deepEqual(secretReads('default', 'media-worker'), []);
    assert.deepEqual(secretReads('default', 'reassembler'), []);
    for (const worker of Object.keys(EXPECTED)) {
      assert.ok(!grants('default', worker).some((g) => g.startsWith('secretsmanager:')), `${worker} task role`);
    }
  });

  it('the secret policy denies every other principal', () => {
    const { templates } = synth('default');
    const t = templates['StereoSpot-Compute'];
    const [policy] = Object.values(t.Resources).filter((r) => r.Type === 'AWS::SecretsManager::ResourcePolicy');
    assert.equal(label(templates, 'StereoSpot-Compute', policy.Properties.SecretId), 'HfToken');
    const [deny] = policy.Properties.ResourcePolicy.Statement;
    assert.equal(deny.Effect, 'Deny');
    assert.equal(deny.Action, 'secretsmanager:GetSecretValue');
    const readers = deny.Condition.StringNotEquals['aws:PrincipalArn'];
    assert.deepEqual(readers.map((r: unknown) => label(templates, 'StereoSpot-Compute', r)), ['VideoWorkerTaskExecutionRole']);
  });

  it('with SageMaker nobody loads the model in ECS: no task gets the token, every read is denied', () => {
    const { templates } = synth('inference');
    const t = templates['StereoSpot-Compute'];
    for (const r of Object.values(t.Resources)) {
      if (r.Type === 'AWS::ECS::TaskDefinition') assert.equal(r.Properties.ContainerDefinitions[0].Secrets, undefined);
    }
    assert.deepEqual(secretReads('inference', 'video-worker'), []);
    const [policy] = Object.values(t.Resources).filter((r) => r.Type === 'AWS::SecretsManager::ResourcePolicy');
    assert.equal(policy.Properties.ResourcePolicy.Statement[0].Condition, undefined);
  });
});
