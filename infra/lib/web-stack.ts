// Web: the web-ui service (JSON job API and pages, docs/web-api.md) on Fargate behind an
// internet-facing HTTPS Application Load Balancer. Opt-in, because it needs a certificate:
//   -c web=true -c webCertificateArn=arn:aws:acm:<region>:<account>:certificate/<id>
// Access control (`-c webAuth=`): `bearer` (default; a generated token in Secrets Manager, read
// only by the task's execution role) or `alb-oidc` (the ALB signs users in with an OIDC provider
// and forwards `x-amzn-oidc-identity`; the ALB strips client-sent copies of that header).
// The service runs the worker image (docker/worker.Dockerfile) with the `web-ui` command.
import { CfnOutput, Duration, RemovalPolicy, SecretValue, Size, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Config } from './config';
import { ENV, EnvName } from './generated/env-names';
import { ImagesStack } from './images-stack';
import { KEYS } from './schemas';
import { StorageStack } from './storage-stack';
import { resourceEnv } from './worker-env';

export type WebAuth = 'bearer' | 'alb-oidc';

export interface WebOidc {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly userInfoEndpoint: string;
  readonly clientId: string;
  /** Name (or ARN) of the Secrets Manager secret holding the OIDC client secret. */
  readonly clientSecretName: string;
}

export interface WebSettings {
  readonly certificateArn: string;
  readonly auth: WebAuth;
  readonly oidc?: WebOidc;
  /** Who may reach the load balancer (HTTPS). */
  readonly allowedCidr: string;
  readonly desiredCount: number;
}

export const WEB_PORT = 8080;
export const WEB_HEALTH_PATH = '/healthz';
export const WEB_TASK = { cpu: 256, memoryMiB: 512 } as const;
/** web-ui ends event streams on SIGTERM and gives requests 10 s; the container gets this. */
export const WEB_STOP_TIMEOUT = Duration.seconds(20);

const OIDC_KEYS = {
  issuer: 'webOidcIssuer',
  authorizationEndpoint: 'webOidcAuthorizationEndpoint',
  tokenEndpoint: 'webOidcTokenEndpoint',
  userInfoEndpoint: 'webOidcUserInfoEndpoint',
  clientId: 'webOidcClientId',
  clientSecretName: 'webOidcClientSecretName',
} as const;

function ctxString(get: (key: string) => unknown, key: string): string | undefined {
  const v = get(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
    throw new Error(`context ${key}: expected a string, got ${JSON.stringify(v)}`);
  }
  return String(v);
}

/**
 * The web settings from CDK context, or undefined unless `web=true`. Validated so a typo fails
 * `cdk synth`.
 */
export function loadWebSettings(get: (key: string) => unknown): WebSettings | undefined {
  const web = ctxString(get, 'web') ?? 'false';
  if (web === 'false') return undefined;
  if (web !== 'true') throw new Error(`context web: expected true or false, got ${JSON.stringify(web)}`);

  const certificateArn = ctxString(get, 'webCertificateArn');
  if (!certificateArn || !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(certificateArn)) {
    throw new Error(
      `context webCertificateArn: web=true needs the ARN of an ACM certificate for the site's name, got ${JSON.stringify(certificateArn ?? '')}`,
    );
  }
  const auth = ctxString(get, 'webAuth') ?? 'bearer';
  if (auth !== 'bearer' && auth !== 'alb-oidc') {
    throw new Error(`context webAuth: expected bearer or alb-oidc, got ${JSON.stringify(auth)}`);
  }
  let oidc: WebOidc | undefined;
  if (auth === 'alb-oidc') {
    const entries = Object.entries(OIDC_KEYS).map(([field, key]) => {
      const v = ctxString(get, key);
      if (!v) throw new Error(`context ${key}: required by webAuth=alb-oidc`);
      if (field !== 'clientId' && field !== 'clientSecretName' && !/^https:\/\/\S+$/.test(v)) {
        throw new Error(`context ${key}: expected an https:// URL, got ${JSON.stringify(v)}`);
      }
      return [field, v] as const;
    });
    oidc = Object.fromEntries(entries) as unknown as WebOidc;
  }
  const allowedCidr = ctxString(get, 'webAllowedCidr') ?? '0.0.0.0/0';
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(allowedCidr)) {
    throw new Error(`context webAllowedCidr: expected an IPv4 CIDR, got ${JSON.stringify(allowedCidr)}`);
  }
  const count = ctxString(get, 'webDesiredCount') ?? '1';
  if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > 10) {
    throw new Error(`context webDesiredCount: expected 1..10, got ${JSON.stringify(count)}`);
  }
  return { certificateArn, auth, oidc, allowedCidr, desiredCount: Number(count) };
}

/**
 * What the web-ui may touch (matches workers/src/web): presigned PUTs and multipart uploads into
 * `input/`, HeadObject of uploads (by-key; ListBucket so a missing key is 404), presigned GETs of
 * `final.mp4` and the thumbnail, reads of the Jobs table and its GSIs, and job control: cancel
 * (UpdateItem, deleting partial outputs) and delete (the job's objects and records).
 */
export function webStatements(storage: StorageStack): iam.PolicyStatement[] {
  const input = storage.inputBucket;
  const jobs = storage.jobsTable;
  return [
    new iam.PolicyStatement({
      sid: 'Uploads',
      // GetObject + PutObject also let a re-render copy an upload (CopyObject); the tagging
      // actions let the copy carry the source's tags, as CopyObject does by default.
      actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:GetObject', 's3:GetObjectTagging', 's3:PutObjectTagging'],
      resources: [input.arnForObjects(`${KEYS.inputPrefix}*`)],
    }),
    new iam.PolicyStatement({
      sid: 'UploadLookups',
      actions: ['s3:ListBucket'],
      resources: [input.bucketArn],
    }),
    new iam.PolicyStatement({
      sid: 'Results',
      // final.mp4 and the thumbnail are presigned; HeadObject of the thumbnail (GetObject).
      actions: ['s3:GetObject'],
      resources: [
        storage.outputBucket.arnForObjects(`${KEYS.jobsPrefix}*/final.mp4`),
        storage.outputBucket.arnForObjects(`${KEYS.jobsPrefix}*/thumbnail.jpg`),
      ],
    }),
    new iam.PolicyStatement({
      sid: 'JobCleanup',
      // Cancel removes a job's partial outputs, delete everything of it (docs/web-api.md).
      actions: ['s3:DeleteObject'],
      resources: [
        input.arnForObjects(`${KEYS.inputPrefix}*`),
        input.arnForObjects(`${KEYS.segmentsPrefix}*`),
        storage.outputBucket.arnForObjects(`${KEYS.jobsPrefix}*`),
      ],
    }),
    new iam.PolicyStatement({
      sid: 'JobListings',
      // Listing a job's prefixes to delete them (and a missing thumbnail is 404, not 403).
      actions: ['s3:ListBucket'],
      resources: [storage.outputBucket.bucketArn],
    }),
    new iam.PolicyStatement({
      sid: 'ReadJobs',
      actions: ['dynamodb:GetItem', 'dynamodb:Query'],
      resources: [jobs.tableArn, `${jobs.tableArn}/index/*`],
    }),
    new iam.PolicyStatement({
      sid: 'ControlJobs',
      // Cancel (conditional UpdateItem) and delete (the job, its completions and claim).
      actions: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      resources: [jobs.tableArn],
    }),
    new iam.PolicyStatement({
      sid: 'DeleteJobRecords',
      actions: ['dynamodb:Query', 'dynamodb:DeleteItem'],
      resources: [storage.segmentCompletionsTable.tableArn],
    }),
    new iam.PolicyStatement({
      sid: 'DeleteJobClaim',
      actions: ['dynamodb:DeleteItem'],
      resources: [storage.reassemblyTriggeredTable.tableArn],
    }),
  ];
}

export interface WebStackProps extends StackProps {
  readonly config: Config;
  readonly web: WebSettings;
  readonly storage: StorageStack;
  readonly images: ImagesStack;
  readonly vpc: ec2.IVpc;
  readonly cluster: ecs.ICluster;
}

export class WebStack extends Stack {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly service: ecs.FargateService;
  readonly taskRole: iam.Role;
  readonly tokenSecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: WebStackProps) {
    super(scope, id, props);
    const { config, web, storage, images, vpc, cluster } = props;

    const albSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      allowAllOutbound: false,
      description: 'StereoSpot web-ui load balancer: HTTPS in, web-ui tasks out',
    });
    albSg.addIngressRule(ec2.Peer.ipv4(web.allowedCidr), ec2.Port.tcp(443), 'HTTPS from the allowed clients');
    const serviceSg = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', {
      vpc,
      allowAllOutbound: false,
      description: 'StereoSpot web-ui tasks: 8080 from the load balancer, HTTPS out',
    });
    serviceSg.addIngressRule(albSg, ec2.Port.tcp(WEB_PORT), 'web-ui from the load balancer');
    serviceSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs and ECR');
    // A CIDR rule (rendered inline, which replaces the default allow-all egress) rather than a
    // group reference (a separate resource, which would leave the default in place).
    albSg.addEgressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(WEB_PORT), 'to the web-ui tasks (VPC)');
    if (web.auth === 'alb-oidc') {
      albSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'OIDC token and user-info endpoints');
    }

    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'StereoSpot web-ui task role',
    });
    new iam.Policy(this, 'TaskPolicy', { roles: [this.taskRole], statements: webStatements(storage) });

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retentionDays(config.logRetentionDays) });
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: WEB_TASK.cpu,
      memoryLimitMiB: WEB_TASK.memoryMiB,
      taskRole: this.taskRole,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const executionRole = task.obtainExecutionRole();

    const environment: Partial<Record<EnvName, string>> = {
      ...resourceEnv(storage),
      [ENV.LOG_FORMAT]: 'json',
      [ENV.WEB_AUTH]: web.auth,
      [ENV.WEB_LISTEN_ADDR]: `0.0.0.0:${WEB_PORT}`,
    };
    let secrets: Record<string, ecs.Secret> | undefined;
    if (web.auth === 'bearer') {
      this.tokenSecret = new secretsmanager.Secret(this, 'AuthToken', {
        description: 'Bearer token of the StereoSpot web-ui (WEB_AUTH_TOKEN); rotate by setting a new value and restarting the service.',
        generateSecretString: { passwordLength: 40, excludePunctuation: true },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      secrets = { [ENV.WEB_AUTH_TOKEN]: ecs.Secret.fromSecretsManager(this.tokenSecret) };
      // Readable by the execution role (which injects it) and by operators with IAM access to
      // it (they need the value to sign in): `aws secretsmanager get-secret-value`.
      this.tokenSecret.grantRead(executionRole);
    }

    task.addContainer('web-ui', {
      image: ecs.ContainerImage.fromEcrRepository(images.repositories.worker, config.imageTag),
      command: ['web-ui'],
      environment,
      secrets,
      portMappings: [{ containerPort: WEB_PORT, protocol: ecs.Protocol.TCP }],
      readonlyRootFilesystem: true,
      stopTimeout: WEB_STOP_TIMEOUT,
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
      logging: ecs.LogDrivers.awsLogs({
        logGroup,
        streamPrefix: 'web-ui',
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      desiredCount: web.desiredCount,
      securityGroups: [serviceSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      enableExecuteCommand: false,
      healthCheckGracePeriod: Duration.seconds(30),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSg,
      dropInvalidHeaderFields: true,
      // Event streams send a keep-alive comment every 15 s.
      idleTimeout: Duration.seconds(60),
      deletionProtection: true,
    });
    const cfnAlb = this.loadBalancer.node.defaultChild as elbv2.CfnLoadBalancer;
    cfnAlb.addMetadata('checkov', {
      skip: [
        {
          id: 'CKV_AWS_91',
          comment:
            'No ALB access logs: web-ui logs every request (method, path, status, latency, OIDC user) as JSON to ' +
            'CloudWatch, and ALB log delivery would need a policy on the Storage stack log bucket.',
        },
        {
          id: 'CKV2_AWS_28',
          comment: 'No WAF by default: the API is authenticated (bearer or OIDC) and rate-free; attach a web ACL per deployment if needed.',
        },
      ],
    });

    const targets = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc,
      port: WEB_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [this.service],
      deregistrationDelay: Duration.seconds(15),
      healthCheck: {
        path: WEB_HEALTH_PATH,
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });
    const forward = elbv2.ListenerAction.forward([targets]);
    new elbv2.ApplicationListener(this, 'Https', {
      loadBalancer: this.loadBalancer,
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(web.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      open: false,
      defaultAction:
        web.auth === 'alb-oidc' && web.oidc
          ? elbv2.ListenerAction.authenticateOidc({
              issuer: web.oidc.issuer,
              authorizationEndpoint: web.oidc.authorizationEndpoint,
              tokenEndpoint: web.oidc.tokenEndpoint,
              userInfoEndpoint: web.oidc.userInfoEndpoint,
              clientId: web.oidc.clientId,
              clientSecret: SecretValue.secretsManager(web.oidc.clientSecretName),
              next: forward,
            })
          : forward,
    });

    const url = `https://${this.loadBalancer.loadBalancerDnsName}`;
    new CfnOutput(this, 'WebUrl', {
      value: url,
      description: 'web-ui (point a DNS name of the certificate at the load balancer)',
    });
    new CfnOutput(this, 'WebServiceName', { value: this.service.serviceName, description: 'ECS service web-ui' });
    if (this.tokenSecret) {
      new CfnOutput(this, 'WebAuthTokenSecretArn', {
        value: this.tokenSecret.secretArn,
        description: 'Secrets Manager ARN of the web-ui bearer token (WEB_AUTH_TOKEN)',
      });
    }
  }
}

function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  const match = allowed.filter((v) => v >= days).sort((a, b) => a - b)[0];
  if (match === undefined) throw new Error(`no CloudWatch Logs retention >= ${days} days`);
  return match as logs.RetentionDays;
}
