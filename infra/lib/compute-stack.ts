// Compute: VPC (2 AZs, 1 NAT gateway, S3/DynamoDB gateway endpoints), the ECS cluster, the GPU
// capacity provider, the three worker services with backlog scaling, and the alarms.
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PipelineAlarms } from './alarms';
import { Config, stopTimeoutSeconds } from './config';
import { ENV } from './generated/env-names';
import { ImagesStack } from './images-stack';
import { InferenceStack } from './inference-stack';
import { WorkerName } from './names';
import { workerStatements } from './permissions';
import { StorageStack } from './storage-stack';
import { VideoWorkerMode, workerEnv } from './worker-env';
import { WorkerService } from './worker-service';

export interface ComputeStackProps extends StackProps {
  readonly config: Config;
  readonly storage: StorageStack;
  readonly images: ImagesStack;
  /** Present when `-c inference=true`: the video-worker calls this endpoint. */
  readonly inference?: InferenceStack;
}

/** Task sizes and scaling granularity per worker. */
export const WORKER_SPECS = {
  'media-worker': { fargate: { cpu: 2048, memoryMiB: 4096, ephemeralGiB: 100 }, backlogPerTask: 1 },
  'video-worker': {
    fargate: { cpu: 4096, memoryMiB: 8192, ephemeralGiB: 40 },
    // g4dn.xlarge: 4 vCPU, 16 GiB, 1 T4; ECS registers ~15.5 GiB of it.
    gpu: { cpu: 4096, memoryMiB: 14336 },
    backlogPerTask: 2,
  },
  reassembler: { fargate: { cpu: 1024, memoryMiB: 2048, ephemeralGiB: 100 }, backlogPerTask: 10 },
} as const;

export const GPU_ROOT_VOLUME_GIB = 100;

export class ComputeStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly cluster: ecs.Cluster;
  readonly services: Record<WorkerName, WorkerService>;
  readonly gpuCapacityProvider?: ecs.AsgCapacityProvider;
  readonly alarms: PipelineAlarms;

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props);
    const { config, storage, images, inference } = props;
    const retention = retentionDays(config.logRetentionDays);

    const flowLogs = new logs.LogGroup(this, 'VpcFlowLogs', { retention });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      // No ENI uses the default group; restricting it needs a Lambda-backed custom resource.
      restrictDefaultSecurityGroup: false,
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
    const subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    const workersSg = httpsOnlySecurityGroup(this, 'WorkersSecurityGroup', this.vpc, 'StereoSpot worker tasks');

    const videoGpu = config.videoWorkerGpu;
    if (videoGpu) {
      this.gpuCapacityProvider = this.gpuCapacity(config, subnets);
    }

    const targets = { buckets: storage.buckets(), queues: storage.queues, tables: storage.tables() };
    const stopTimeout = Duration.seconds(stopTimeoutSeconds(config));
    const tag = config.imageTag;
    const workerImage = ecs.ContainerImage.fromEcrRepository(images.repositories.worker, tag);

    const videoMode: VideoWorkerMode = inference
      ? { backend: 'sagemaker', depthDevice: 'cpu', sagemakerEndpointName: inference.endpointName }
      : { backend: 'local', depthDevice: videoGpu ? 'cuda' : 'cpu' };
    const videoStatements = workerStatements('video-worker', targets);
    if (inference) {
      videoStatements.push(
        new iam.PolicyStatement({
          sid: 'InvokeEndpoint',
          actions: ['sagemaker:InvokeEndpoint'],
          resources: [inference.endpointArn],
        }),
      );
    }
    // The model-download token goes only to a video-worker that loads the model itself.
    const hfSecrets =
      videoMode.backend === 'local' ? { [ENV.HF_TOKEN]: ecs.Secret.fromSecretsManager(storage.hfTokenSecret) } : undefined;

    const common = {
      cluster: this.cluster,
      stopTimeout,
      securityGroup: workersSg,
      subnets,
      logRetention: retention,
    };
    const media = new WorkerService(this, 'MediaWorker', {
      ...common,
      worker: 'media-worker',
      image: workerImage,
      compute: { kind: 'fargate', ...WORKER_SPECS['media-worker'].fargate },
      environment: workerEnv('media-worker', config, storage),
      statements: workerStatements('media-worker', targets),
      queues: [storage.queues.chunking.queue],
      backlogPerTask: WORKER_SPECS['media-worker'].backlogPerTask,
      maxTasks: config.maxTasks.mediaWorker,
    });
    const video = new WorkerService(this, 'VideoWorker', {
      ...common,
      worker: 'video-worker',
      image: this.gpuCapacityProvider
        ? ecs.ContainerImage.fromEcrRepository(images.repositories.videoWorkerGpu, tag)
        : workerImage,
      compute: this.gpuCapacityProvider
        ? { kind: 'gpu', capacityProvider: this.gpuCapacityProvider, ...WORKER_SPECS['video-worker'].gpu }
        : { kind: 'fargate', ...WORKER_SPECS['video-worker'].fargate },
      environment: workerEnv('video-worker', config, storage, videoMode),
      secrets: hfSecrets,
      statements: videoStatements,
      queues: [storage.queues['video-worker'].queue],
      backlogPerTask: WORKER_SPECS['video-worker'].backlogPerTask,
      maxTasks: config.maxTasks.videoWorker,
    });
    const reassembler = new WorkerService(this, 'Reassembler', {
      ...common,
      worker: 'reassembler',
      image: workerImage,
      compute: { kind: 'fargate', ...WORKER_SPECS.reassembler.fargate },
      environment: workerEnv('reassembler', config, storage),
      statements: workerStatements('reassembler', targets),
      queues: [storage.queues['segment-output'].queue, storage.queues.reassembly.queue],
      backlogPerTask: WORKER_SPECS.reassembler.backlogPerTask,
      maxTasks: config.maxTasks.reassembler,
    });
    this.services = { 'media-worker': media, 'video-worker': video, reassembler };

    // Only the roles that inject HF_TOKEN may read it; everyone else is denied, admins included
    // (they can still replace the value: `make update-hf-token`).
    const readers = hfSecrets ? [video.executionRole.roleArn] : [];
    new secretsmanager.CfnResourcePolicy(this, 'HfTokenReadersOnly', {
      secretId: storage.hfTokenSecret.secretArn,
      blockPublicPolicy: true,
      resourcePolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'OnlyTokenConsumersRead',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            ...(readers.length > 0 ? { Condition: { StringNotEquals: { 'aws:PrincipalArn': readers } } } : {}),
          },
        ],
      },
    });

    this.alarms = new PipelineAlarms(this, 'Alarms', {
      namespace: `${config.prefix}/Pipeline`,
      queues: storage.queues,
      workerLogGroups: [media.logGroup, video.logGroup, reassembler.logGroup],
      email: config.alarmEmail || undefined,
    });

    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName, description: 'ECS cluster' });
    for (const [name, svc] of Object.entries(this.services)) {
      const pascal = name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      new CfnOutput(this, `${pascal}ServiceName`, { value: svc.service.serviceName, description: `ECS service ${name}` });
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'SNS topic of the alarms' });
  }

  /** GPU instances (ECS GPU AMI, AL2023, NVIDIA 580 driver: CUDA 13) scaled by ECS from 0. */
  private gpuCapacity(config: Config, subnets: ec2.SubnetSelection): ecs.AsgCapacityProvider {
    const instanceSg = httpsOnlySecurityGroup(this, 'GpuInstancesSecurityGroup', this.vpc, 'StereoSpot GPU container instances');
    const role = new iam.Role(this, 'GpuInstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      // The cluster adds the ECS agent's permissions (scoped to this cluster) when the capacity
      // provider is attached; no broader managed policy.
      description: 'StereoSpot GPU container instances (ECS agent)',
    });
    const userData = ec2.UserData.forLinux();
    userData.addCommands('echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config');
    const launchTemplate = new ec2.LaunchTemplate(this, 'GpuLaunchTemplate', {
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.GPU),
      instanceType: new ec2.InstanceType(config.gpuInstanceType),
      userData,
      role,
      securityGroup: instanceSg,
      requireImdsv2: true,
      // Tasks (awsvpc) cannot reach the instance's metadata and its role.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(GPU_ROOT_VOLUME_GIB, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });
    const asg = new autoscaling.AutoScalingGroup(this, 'GpuInstances', {
      vpc: this.vpc,
      vpcSubnets: subnets,
      launchTemplate,
      minCapacity: 0,
      maxCapacity: config.maxTasks.videoWorker,
    });
    const provider = new ecs.AsgCapacityProvider(this, 'GpuCapacityProvider', {
      autoScalingGroup: asg,
      enableManagedScaling: true,
      enableManagedTerminationProtection: true,
      targetCapacityPercent: 100,
      machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
    });
    this.cluster.addAsgCapacityProvider(provider);
    return provider;
  }
}

function httpsOnlySecurityGroup(scope: Construct, id: string, vpc: ec2.IVpc, what: string): ec2.SecurityGroup {
  const sg = new ec2.SecurityGroup(scope, id, {
    vpc,
    allowAllOutbound: false,
    description: `${what}: no inbound, HTTPS out`,
  });
  sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs, ECR and the model hub');
  return sg;
}

function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  const match = allowed.filter((v) => v >= days).sort((a, b) => a - b)[0];
  if (match === undefined) throw new Error(`no CloudWatch Logs retention >= ${days} days`);
  return match as logs.RetentionDays;
}
