// One queue-consuming worker: task role (least privilege), log group, task definition, ECS
// service with 0 desired tasks, and backlog scaling with a minimum of 0.
import { Duration, Size, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WorkerName } from './names';
import { BacklogScaling } from './queue-scaling';

export type WorkerCompute =
  | { readonly kind: 'fargate'; readonly cpu: number; readonly memoryMiB: number; readonly ephemeralGiB: number }
  | {
      readonly kind: 'gpu';
      readonly capacityProvider: ecs.AsgCapacityProvider;
      readonly cpu: number;
      readonly memoryMiB: number;
    };

export interface WorkerServiceProps {
  readonly cluster: ecs.ICluster;
  readonly worker: WorkerName;
  readonly image: ecs.ContainerImage;
  readonly compute: WorkerCompute;
  readonly environment: Record<string, string>;
  readonly secrets?: Record<string, ecs.Secret>;
  readonly statements: iam.PolicyStatement[];
  readonly stopTimeout: Duration;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly subnets: ec2.SubnetSelection;
  readonly logRetention: logs.RetentionDays;
  readonly queues: readonly sqs.IQueue[];
  readonly backlogPerTask: number;
  readonly maxTasks: number;
}

export class WorkerService extends Construct {
  readonly taskRole: iam.Role;
  readonly executionRole: iam.IRole;
  readonly logGroup: logs.LogGroup;
  readonly taskDefinition: ecs.TaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly service: ecs.BaseService;
  readonly scalableTarget: appscaling.ScalableTarget;
  readonly scaling: BacklogScaling;

  constructor(scope: Construct, id: string, props: WorkerServiceProps) {
    super(scope, id);
    const { worker, compute } = props;

    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `StereoSpot ${worker} task role`,
    });
    new iam.Policy(this, 'TaskPolicy', { roles: [this.taskRole], statements: props.statements });

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });

    if (compute.kind === 'fargate') {
      this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
        cpu: compute.cpu,
        memoryLimitMiB: compute.memoryMiB,
        ephemeralStorageGiB: compute.ephemeralGiB,
        taskRole: this.taskRole,
        runtimePlatform: {
          cpuArchitecture: ecs.CpuArchitecture.X86_64,
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        },
      });
    } else {
      this.taskDefinition = new ecs.Ec2TaskDefinition(this, 'Task', {
        networkMode: ecs.NetworkMode.AWS_VPC,
        taskRole: this.taskRole,
      });
    }
    this.executionRole = this.taskDefinition.obtainExecutionRole();

    this.container = this.taskDefinition.addContainer(worker, {
      image: props.image,
      command: [worker],
      environment: props.environment,
      secrets: props.secrets,
      stopTimeout: props.stopTimeout,
      // tini as PID 1: forwards SIGTERM to the worker and reaps ffmpeg children.
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: worker,
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
      ...(compute.kind === 'gpu'
        ? { gpuCount: 1, cpu: compute.cpu, memoryLimitMiB: compute.memoryMiB }
        : {}),
    });

    const common = {
      cluster: props.cluster,
      // Scaling owns the count; 0 at creation so no task starts before there is work.
      desiredCount: 0,
      securityGroups: [props.securityGroup],
      vpcSubnets: props.subnets,
      circuitBreaker: { rollback: true },
      enableExecuteCommand: false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    };
    if (compute.kind === 'fargate') {
      this.service = new ecs.FargateService(this, 'Service', {
        ...common,
        taskDefinition: this.taskDefinition,
        assignPublicIp: false,
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
      });
    } else {
      this.service = new ecs.Ec2Service(this, 'Service', {
        ...common,
        taskDefinition: this.taskDefinition,
        capacityProviderStrategies: [{ capacityProvider: compute.capacityProvider.capacityProviderName, weight: 1 }],
        // A rolling update needs no spare GPU instance: old tasks stop (gracefully) first.
        minHealthyPercent: 0,
        maxHealthyPercent: 100,
      });
    }

    this.scalableTarget = new appscaling.ScalableTarget(this, 'TaskCount', {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: `service/${props.cluster.clusterName}/${this.service.serviceName}`,
      minCapacity: 0,
      maxCapacity: props.maxTasks,
      // Application Auto Scaling's service-linked role for ECS (created on first use), as
      // `service.autoScaleTaskCount` does; no extra role.
      role: iam.Role.fromRoleArn(
        this,
        'ScalingRole',
        Stack.of(this).formatArn({
          region: '',
          service: 'iam',
          resource: 'role/aws-service-role/ecs.application-autoscaling.amazonaws.com',
          resourceName: 'AWSServiceRoleForApplicationAutoScaling_ECSService',
        }),
      ),
    });
    this.scaling = new BacklogScaling(this, 'Scaling', {
      target: this.scalableTarget,
      queues: props.queues,
      backlogPerTask: props.backlogPerTask,
      maxTasks: props.maxTasks,
      idle: Duration.minutes(5),
    });
  }
}
