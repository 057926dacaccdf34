// Inference (optional, `-c inference=true`): a SageMaker real-time endpoint serving the
// inference image (inference-server on port 8080, /ping and /invocations). The compute stack then
// runs the video-worker with INFERENCE_BACKEND=sagemaker and SAGEMAKER_ENDPOINT_NAME from here.
import { Aws, CfnOutput, CfnResource, Stack, StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { Config } from './config';
import { ENV, EnvName } from './generated/env-names';
import { envOutputKey } from './names';

/**
 * SageMaker's newest inference AMI ships NVIDIA driver 550 (CUDA 12.4), so the inference image is
 * built on CUDA 12 with onnxruntime-gpu 1.26 (docker/inference.Dockerfile).
 */
export const INFERENCE_AMI_VERSION = 'al2-ami-sagemaker-inference-gpu-3-1';

export interface InferenceStackProps extends StackProps {
  readonly config: Config;
  readonly repository: ecr.IRepository;
}

export function isGpuInstance(instanceType: string): boolean {
  return /^ml\.(g|p)\d/.test(instanceType);
}

export class InferenceStack extends Stack {
  readonly endpointName: string;
  readonly endpointArn: string;
  readonly executionRole: iam.Role;
  readonly modelEnvironment: Partial<Record<EnvName, string>>;

  constructor(scope: Construct, id: string, props: InferenceStackProps) {
    super(scope, id, props);
    const { config, repository } = props;

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'StereoSpot SageMaker model: pull its image, write its logs and metrics',
    });
    const policy = new iam.Policy(this, 'ExecutionPolicy', {
      roles: [this.executionRole],
      statements: [
        new iam.PolicyStatement({
          sid: 'PullImage',
          actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          resources: [repository.repositoryArn],
        }),
        new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
        new iam.PolicyStatement({
          sid: 'EndpointLogs',
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [`arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/*`],
        }),
        new iam.PolicyStatement({
          sid: 'EndpointMetrics',
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'aws/sagemaker/*'] } },
        }),
      ],
    });
    if (config.modelDataUrl) {
      const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(config.modelDataUrl) ?? [];
      policy.addStatements(
        new iam.PolicyStatement({
          sid: 'ModelArtifact',
          actions: ['s3:GetObject'],
          resources: [`arn:${Aws.PARTITION}:s3:::${bucket}/${key}`],
        }),
      );
    }

    const gpu = isGpuInstance(config.sagemakerInstanceType);
    this.modelEnvironment = { [ENV.LOG_FORMAT]: 'json', [ENV.DEPTH_DEVICE]: gpu ? 'cuda' : 'cpu' };
    if (config.modelPath) this.modelEnvironment[ENV.MODEL_PATH] = config.modelPath;
    if (config.modelProfile) this.modelEnvironment[ENV.MODEL_PROFILE] = config.modelProfile;

    const model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.executionRole.roleArn,
      primaryContainer: {
        image: repository.repositoryUriForTag(config.imageTag),
        mode: 'SingleModel',
        // Unpacked to /opt/ml/model, where inference-server looks for its *.onnx; without it the
        // server runs MODEL_PATH or its embedded model.
        modelDataUrl: config.modelDataUrl,
        environment: this.modelEnvironment,
      },
      enableNetworkIsolation: true,
    });
    // SageMaker checks the image pull when the model is created: the policy must exist first.
    model.addResourceDependency(policy.node.defaultChild as CfnResource);

    const endpointConfig = new sagemaker.CfnEndpointConfig(this, 'EndpointConfig', {
      productionVariants: [
        {
          variantName: 'AllTraffic',
          modelName: model.attrModelName,
          initialInstanceCount: 1,
          initialVariantWeight: 1,
          instanceType: config.sagemakerInstanceType,
          ...(gpu ? { inferenceAmiVersion: INFERENCE_AMI_VERSION } : {}),
          containerStartupHealthCheckTimeoutInSeconds: 600,
        },
      ],
    });
    const endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointConfigName: endpointConfig.attrEndpointConfigName,
    });
    this.endpointName = endpoint.attrEndpointName;
    // Ref of AWS::SageMaker::Endpoint is its ARN.
    this.endpointArn = endpoint.ref;

    new CfnOutput(this, envOutputKey(ENV.SAGEMAKER_ENDPOINT_NAME), {
      value: this.endpointName,
      description: `env ${ENV.SAGEMAKER_ENDPOINT_NAME}`,
    });
  }
}
