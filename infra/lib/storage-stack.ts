// Storage: the two buckets (with their S3 -> SQS notifications), the four work queues with their
// dead-letter queues, the three DynamoDB tables and the model-download token. Buckets and queues
// share a stack because each bucket's notification targets a queue whose policy names the bucket.
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Config } from './config';
import { BucketRole, BUCKET_ENV, envOutputKey, QueueRole, QUEUE_ENV, TableRole, TABLE_ENV } from './names';
import {
  DLQ_RETENTION,
  INPUT_SEGMENT_EXPIRY_DAYS,
  KEYS,
  MAX_MESSAGE_BYTES,
  OUTPUT_SEGMENT_EXPIRY_DAYS,
  DEPTH_TAG,
  KEPT_DEPTH_EXPIRY_DAYS,
  QUEUE_RETENTION,
  QUEUE_ROLES,
  QUEUE_SETTINGS,
  SEGMENT_TAG,
  TABLE_KEYS,
} from './schemas';

export interface WorkQueue {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
  /** The queue's only resource policy: TLS only, plus SendMessage for its bucket's notifications. */
  readonly policy: sqs.QueuePolicy;
}

export interface StorageStackProps extends StackProps {
  readonly config: Config;
}

/** One S3 -> SQS notification rule (S3 filters allow one prefix and one suffix per rule). */
export interface NotificationRule {
  readonly prefix: string;
  readonly suffix?: string;
  readonly target: QueueRole;
}

export const NOTIFICATIONS: Record<BucketRole, readonly NotificationRule[]> = {
  input: [
    // Every upload under input/, whatever its container: the media-worker probes it and fails a
    // job that is not a video with the reason (the web UI takes mp4, mov, mkv, webm, ...).
    { prefix: KEYS.inputPrefix, target: 'chunking' },
    { prefix: KEYS.segmentsPrefix, target: 'video-worker' },
  ],
  // `jobs/` + `.mp4` also matches `jobs/<job>/final.mp4` (the job id cannot be wildcarded);
  // the reassembler classifies every key and ignores final.mp4 events.
  output: [{ prefix: KEYS.jobsPrefix, suffix: KEYS.outputSuffix, target: 'segment-output' }],
};

export class StorageStack extends Stack {
  readonly inputBucket: s3.Bucket;
  readonly outputBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly queues: Record<QueueRole, WorkQueue>;
  readonly jobsTable: dynamodb.Table;
  readonly segmentCompletionsTable: dynamodb.Table;
  readonly reassemblyTriggeredTable: dynamodb.Table;
  readonly hfTokenSecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: StorageStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.queues = Object.fromEntries(QUEUE_ROLES.map((role) => [role, this.workQueue(role)])) as Record<
      QueueRole,
      WorkQueue
    >;

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.inputBucket = this.pipelineBucket('input', config, {
      lifecycleRules: [
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { id: 'ExpireSourceSegments', prefix: KEYS.segmentsPrefix, expiration: Duration.days(INPUT_SEGMENT_EXPIRY_DAYS) },
      ],
      // Browser uploads from the web-ui go straight to S3 through presigned URLs (the URL is the
      // authorisation); multipart completion needs each part's ETag readable. A single PUT also
      // sends the job's 3D options as signed metadata headers (docs/web-api.md).
      cors: [
        {
          allowedMethods: [s3.HttpMethods.PUT],
          allowedOrigins: config.corsOrigins,
          allowedHeaders: [
            'Content-Type',
            'x-amz-meta-stereospot-layout',
            'x-amz-meta-stereospot-divergence',
            'x-amz-meta-stereospot-convergence',
            // The uploader, signed into the upload: the job's owner.
            'x-amz-meta-stereospot-owner',
          ],
          exposedHeaders: ['ETag'],
          maxAge: 3600,
        },
      ],
    });
    this.outputBucket = this.pipelineBucket('output', config, {
      lifecycleRules: [
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: 'ExpireOutputSegments',
          prefix: KEYS.jobsPrefix,
          tagFilters: { [SEGMENT_TAG.key]: SEGMENT_TAG.value },
          expiration: Duration.days(OUTPUT_SEGMENT_EXPIRY_DAYS),
        },
        {
          // A re-render after this runs the model again (the workers fall back by themselves).
          id: 'ExpireKeptDepth',
          prefix: KEYS.jobsPrefix,
          tagFilters: { [DEPTH_TAG.key]: DEPTH_TAG.value },
          expiration: Duration.days(KEPT_DEPTH_EXPIRY_DAYS),
        },
      ],
      cors: [
        {
          allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: config.corsOrigins,
          allowedHeaders: ['Range'],
          exposedHeaders: ['Accept-Ranges', 'Content-Length', 'Content-Range', 'Content-Type', 'ETag'],
          maxAge: 3600,
        },
      ],
    });

    this.jobsTable = new dynamodb.Table(this, 'JobsTable', {
      partitionKey: { name: TABLE_KEYS.jobs.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const gsi of TABLE_KEYS.jobs.gsis) {
      this.jobsTable.addGlobalSecondaryIndex({
        indexName: gsi.name,
        partitionKey: { name: gsi.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: gsi.sortKey, type: dynamodb.AttributeType.NUMBER },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    this.segmentCompletionsTable = new dynamodb.Table(this, 'SegmentCompletionsTable', {
      partitionKey: { name: TABLE_KEYS.segmentCompletions.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.segmentCompletions.sortKey, type: dynamodb.AttributeType.NUMBER },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.reassemblyTriggeredTable = new dynamodb.Table(this, 'ReassemblyTriggeredTable', {
      partitionKey: { name: TABLE_KEYS.reassemblyTriggered.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TABLE_KEYS.reassemblyTriggered.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.hfTokenSecret = new secretsmanager.Secret(this, 'HfToken', {
      description: 'Model-download token (HF_TOKEN) for the StereoSpot video-worker; set it with `make update-hf-token`.',
      // A random placeholder until the operator stores the real token.
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.envOutputs();
    new CfnOutput(this, 'HfTokenSecretArn', {
      value: this.hfTokenSecret.secretArn,
      description: 'Secrets Manager ARN of HF_TOKEN (make update-hf-token writes it)',
    });
  }

  tables(): Record<TableRole, dynamodb.Table> {
    return {
      jobs: this.jobsTable,
      'segment-completions': this.segmentCompletionsTable,
      'reassembly-triggered': this.reassemblyTriggeredTable,
    };
  }

  buckets(): Record<BucketRole, s3.Bucket> {
    return { input: this.inputBucket, output: this.outputBucket };
  }

  private workQueue(role: QueueRole): WorkQueue {
    const settings = QUEUE_SETTINGS[role];
    const base = role.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
    const dlq = new sqs.Queue(this, `${base}Dlq`, {
      retentionPeriod: DLQ_RETENTION,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    const queue = new sqs.Queue(this, `${base}Queue`, {
      visibilityTimeout: settings.visibilityTimeout,
      retentionPeriod: QUEUE_RETENTION,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      receiveMessageWaitTime: Duration.seconds(20),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: dlq, maxReceiveCount: settings.maxReceiveCount },
    });
    // Explicit policies (rather than `enforceSSL`) so the bucket notification can depend on them.
    new sqs.QueuePolicy(this, `${base}DlqPolicy`, { queues: [dlq] }).document.addStatements(tlsOnly(dlq));
    const policy = new sqs.QueuePolicy(this, `${base}QueuePolicy`, { queues: [queue] });
    policy.document.addStatements(tlsOnly(queue));
    return { queue, dlq, policy };
  }

  /**
   * A pipeline bucket named `<prefix>-<role>-<account>-<region>`. The name is known before the
   * bucket exists, so the target queues' policies can name it without referencing the bucket, and
   * the bucket's notification configuration (plain CloudFormation, no custom resource) can depend
   * on those policies: S3 checks that it may send when the configuration is put.
   */
  private pipelineBucket(role: BucketRole, config: Config, extra: Partial<s3.BucketProps>): s3.Bucket {
    const bucketName = `${config.prefix.toLowerCase()}-${role}-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${bucketName}`;
    const bucket = new s3.Bucket(this, `${role[0].toUpperCase()}${role.slice(1)}Bucket`, {
      bucketName,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: `${role}/`,
      removalPolicy: RemovalPolicy.RETAIN,
      ...extra,
    });
    const cfnBucket = bucket.node.defaultChild as s3.CfnBucket;
    const rules = NOTIFICATIONS[role];
    cfnBucket.notificationConfiguration = {
      queueConfigurations: rules.map((rule) => ({
        event: 's3:ObjectCreated:*',
        queue: this.queues[rule.target].queue.queueArn,
        filter: {
          s3Key: {
            rules: [
              { name: 'prefix', value: rule.prefix },
              ...(rule.suffix ? [{ name: 'suffix', value: rule.suffix }] : []),
            ],
          },
        },
      })),
    };
    for (const target of new Set(rules.map((r) => r.target))) {
      const { queue, policy } = this.queues[target];
      policy.document.addStatements(
        new iam.PolicyStatement({
          sid: `AllowNotificationsFrom${role[0].toUpperCase()}${role.slice(1)}Bucket`,
          principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [queue.queueArn],
          conditions: {
            ArnEquals: { 'aws:SourceArn': bucketArn },
            StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          },
        }),
      );
      cfnBucket.addResourceDependency(policy.node.defaultChild as sqs.CfnQueuePolicy);
    }
    return bucket;
  }

  /** One output per resource env var, keyed by the name (see names.envOutputKey). */
  private envOutputs(): void {
    const values: Array<[string, string]> = [
      ...Object.entries(this.buckets()).map(([r, b]) => [BUCKET_ENV[r as BucketRole], b.bucketName] as [string, string]),
      ...Object.entries(this.queues).map(([r, q]) => [QUEUE_ENV[r as QueueRole], q.queue.queueUrl] as [string, string]),
      ...Object.entries(this.tables()).map(([r, t]) => [TABLE_ENV[r as TableRole], t.tableName] as [string, string]),
    ];
    for (const [name, value] of values) {
      new CfnOutput(this, envOutputKey(name), { value, description: `env ${name}` });
    }
  }
}

function tlsOnly(queue: sqs.IQueue): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'DenyInsecureTransport',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['sqs:*'],
    resources: [queue.queueArn],
    conditions: { Bool: { 'aws:SecureTransport': 'false' } },
  });
}
