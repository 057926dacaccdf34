// checkov findings we accept, each with its reason, in one place. An Aspect writes them into the
// matching resources' `Metadata.checkov.skip`, which checkov honours for CloudFormation; the README
// lists the same ids (a test checks that it does).
import { CfnResource, IAspect, Aspects } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export interface SkipRule {
  readonly id: string;
  /** CloudFormation resource type the skip applies to. */
  readonly type: string;
  /** Only resources whose construct path matches (all of the type when absent). */
  readonly path?: RegExp;
  readonly comment: string;
}

export const CHECKOV_SKIPS: readonly SkipRule[] = [
  {
    id: 'CKV_AWS_27',
    type: 'AWS::SQS::Queue',
    comment:
      'Encrypted with SSE-SQS (SqsManagedSseEnabled); the check only recognises KMS keys. S3 notifications cannot use the ' +
      'AWS-managed aws/sqs key, and a customer key would add cost and a key policy for s3.amazonaws.com for no gain.',
  },
  {
    id: 'CKV_AWS_21',
    type: 'AWS::S3::Bucket',
    comment:
      'No versioning: the buckets hold regenerable work files with lifecycle expiry (versions would keep every ' +
      'overwritten/expired segment) and append-only access logs.',
  },
  {
    id: 'CKV_AWS_18',
    type: 'AWS::S3::Bucket',
    path: /\/AccessLogsBucket\//,
    comment: 'This is the access-log target bucket; logging it into itself would loop.',
  },
  {
    id: 'CKV_AWS_119',
    type: 'AWS::DynamoDB::Table',
    comment:
      'Encrypted with the AWS-managed KMS key (aws/dynamodb); IAM already scopes each worker to its tables, a ' +
      'customer key would add cost and key-policy upkeep only.',
  },
  {
    id: 'CKV_AWS_28',
    type: 'AWS::DynamoDB::Table',
    path: /\/(SegmentCompletions|ReassemblyTriggered)Table\//,
    comment:
      'Point-in-time recovery is on for Jobs only: SegmentCompletions is derivable from the output bucket and ' +
      'ReassemblyTriggered holds short-lived claims that expire by TTL.',
  },
  {
    id: 'CKV_AWS_149',
    type: 'AWS::SecretsManager::Secret',
    comment:
      'Encrypted with the AWS-managed key (aws/secretsmanager); reads are limited by a resource policy that denies ' +
      'GetSecretValue to every principal except the video-worker execution role.',
  },
  {
    id: 'CKV_AWS_136',
    type: 'AWS::ECR::Repository',
    comment: 'Images are encrypted with AES-256 (ECR default); they contain no secrets, so a customer key adds nothing.',
  },
  {
    id: 'CKV_AWS_51',
    type: 'AWS::ECR::Repository',
    comment:
      'Mutable tags let an operator re-push a tag (default: the git commit). Deployments pin `-c imageTag=...` and ECS ' +
      'resolves the tag to a digest when it deploys, so running tasks never change image underneath.',
  },
  {
    id: 'CKV_AWS_158',
    type: 'AWS::Logs::LogGroup',
    comment:
      'CloudWatch Logs encrypts log data by default; worker logs carry no secrets (HF_TOKEN is injected by ECS, never ' +
      'logged). A customer key would need a key policy for the logs service.',
  },
  {
    id: 'CKV_AWS_26',
    type: 'AWS::SNS::Topic',
    comment:
      'Alarm notifications carry no sensitive data; CloudWatch cannot publish to a topic encrypted with the ' +
      'AWS-managed aws/sns key, and a customer key would exist only for this.',
  },
  {
    id: 'CKV_AWS_111',
    type: 'AWS::IAM::Policy',
    path: /\/GpuInstanceRole\/DefaultPolicy\//,
    comment:
      "CDK's ECS container-instance policy: the agent's logs:CreateLogStream/PutLogEvents, ecs:DiscoverPollEndpoint " +
      'and ecr:GetAuthorizationToken have no resource-level scope. Cluster actions are scoped to the cluster.',
  },
];

class CheckovSkips implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource)) return;
    const path = `/${node.node.path}/`;
    const skips = CHECKOV_SKIPS.filter((s) => s.type === node.cfnResourceType && (!s.path || s.path.test(path)));
    if (skips.length === 0) return;
    node.addMetadata('checkov', { skip: skips.map((s) => ({ id: s.id, comment: s.comment })) });
  }
}

export function applyCheckovSkips(scope: IConstruct): void {
  Aspects.of(scope).add(new CheckovSkips());
}
