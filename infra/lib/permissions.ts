// Least privilege per worker: the exact actions and resources each task role gets. The matrix is
// data (WORKER_ACCESS) so the README and the IAM assertion tests can be read against it.
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BucketRole, QueueRole, TableRole, WorkerName } from './names';
import { WorkQueue } from './storage-stack';

export const SQS_CONSUME = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueAttributes',
] as const;
export const SQS_SEND = ['sqs:SendMessage'] as const;
/** HeadObject is authorised by s3:GetObject. */
export const S3_READ = ['s3:GetObject'] as const;
/** Multipart uploads (large final.mp4) run under s3:PutObject, their abort does not. */
export const S3_WRITE = ['s3:PutObject', 's3:AbortMultipartUpload'] as const;
/** Removing what a step wrote for a job that was cancelled meanwhile. */
export const S3_DELETE = ['s3:DeleteObject'] as const;
/** Listing lets a missing object answer 404 (not 403) to HeadObject/GetObject. */
export const S3_LIST = ['s3:ListBucket'] as const;

export interface ObjectGrant {
  readonly bucket: BucketRole;
  /** Key pattern inside the bucket (IAM wildcards). */
  readonly keys: string;
  readonly actions: readonly string[];
}

export interface TableGrant {
  readonly table: TableRole;
  readonly actions: readonly string[];
  /** The grant covers the table's indexes (`<table>/index/*`) instead of the table. */
  readonly indexes?: boolean;
}

export interface WorkerAccess {
  readonly consumes: readonly QueueRole[];
  readonly sendsTo: readonly QueueRole[];
  readonly lists: readonly BucketRole[];
  readonly objects: readonly ObjectGrant[];
  readonly tables: readonly TableGrant[];
}

const GET = 'dynamodb:GetItem';
const PUT = 'dynamodb:PutItem';
const UPDATE = 'dynamodb:UpdateItem';
const QUERY = 'dynamodb:Query';

/**
 * Matches what pipeline-core's steps call (steps/chunk.rs, stereo.rs, complete.rs, reassemble.rs,
 * adapters/aws/*):
 * media-worker: chunking queue; reads the upload (`input/`), writes `segments/`; creates the job
 * (PutItem), reads it, records chunking and status, can fail it (UpdateItem).
 * video-worker: video-worker queue; reads `segments/`; HEADs (skip if done) and writes its output
 * segment, tagged for the expiry rule (PutObjectTagging); reads the job, adds progress, can fail it.
 * reassembler: segment-output and reassembly queues, sends to the latter; reads output segments,
 * HEADs and writes `final.mp4`, reads the upload (its audio); records a completion (transaction:
 * Put SegmentCompletions + Update Jobs), queries completions, claims reassembly (conditional Put),
 * completes or fails the job. Its stuck-job sweeper lists jobs by status (Query on the Jobs
 * indexes), HEADs source segments, and re-announces a segment to the video-worker queue.
 */
export const WORKER_ACCESS: Record<WorkerName, WorkerAccess> = {
  'media-worker': {
    consumes: ['chunking'],
    sendsTo: [],
    lists: ['input'],
    objects: [
      { bucket: 'input', keys: 'input/*', actions: S3_READ },
      // Pieces of a job cancelled while it was cut are deleted again.
      { bucket: 'input', keys: 'segments/*', actions: [...S3_WRITE, ...S3_DELETE] },
      // The input's thumbnail for the web UI.
      { bucket: 'output', keys: 'jobs/*/thumbnail.jpg', actions: S3_WRITE },
    ],
    tables: [{ table: 'jobs', actions: [GET, PUT, UPDATE] }],
  },
  'video-worker': {
    consumes: ['video-worker'],
    sendsTo: [],
    lists: ['input', 'output'],
    objects: [
      { bucket: 'input', keys: 'segments/*', actions: S3_READ },
      // A segment uploaded while its job was cancelled is deleted again (with its depth).
      { bucket: 'output', keys: 'jobs/*/segments/*', actions: [...S3_READ, ...S3_WRITE, ...S3_DELETE, 's3:PutObjectTagging'] },
      // Kept depth (KEEP_DEPTH): written next to each segment, read back by re-renders.
      { bucket: 'output', keys: 'jobs/*/depth/*', actions: [...S3_READ, ...S3_WRITE, ...S3_DELETE, 's3:PutObjectTagging'] },
    ],
    tables: [{ table: 'jobs', actions: [GET, UPDATE] }],
  },
  reassembler: {
    consumes: ['segment-output', 'reassembly'],
    sendsTo: ['reassembly', 'video-worker'],
    lists: ['input', 'output'],
    objects: [
      { bucket: 'input', keys: 'input/*', actions: S3_READ },
      { bucket: 'input', keys: 'segments/*', actions: S3_READ },
      { bucket: 'output', keys: 'jobs/*/segments/*', actions: S3_READ },
      // A final.mp4 joined while its job was cancelled is deleted again.
      { bucket: 'output', keys: 'jobs/*/final.mp4', actions: [...S3_READ, ...S3_WRITE, ...S3_DELETE] },
    ],
    tables: [
      { table: 'jobs', actions: [GET, UPDATE] },
      { table: 'jobs', actions: [QUERY], indexes: true },
      { table: 'segment-completions', actions: [PUT, QUERY] },
      { table: 'reassembly-triggered', actions: [PUT] },
    ],
  },
};

export interface GrantTargets {
  readonly buckets: Record<BucketRole, s3.IBucket>;
  readonly queues: Record<QueueRole, WorkQueue>;
  readonly tables: Record<TableRole, dynamodb.ITable>;
}

/** The statements of one worker's task role policy. */
export function workerStatements(worker: WorkerName, t: GrantTargets): iam.PolicyStatement[] {
  const a = WORKER_ACCESS[worker];
  const out: iam.PolicyStatement[] = [];
  if (a.consumes.length > 0) {
    out.push(
      new iam.PolicyStatement({
        sid: 'ConsumeQueues',
        actions: [...SQS_CONSUME],
        resources: a.consumes.map((q) => t.queues[q].queue.queueArn),
      }),
    );
  }
  if (a.sendsTo.length > 0) {
    out.push(
      new iam.PolicyStatement({
        sid: 'SendToQueues',
        actions: [...SQS_SEND],
        resources: a.sendsTo.map((q) => t.queues[q].queue.queueArn),
      }),
    );
  }
  if (a.lists.length > 0) {
    out.push(
      new iam.PolicyStatement({
        sid: 'ListBuckets',
        actions: [...S3_LIST],
        resources: a.lists.map((b) => t.buckets[b].bucketArn),
      }),
    );
  }
  a.objects.forEach((g, i) => {
    out.push(
      new iam.PolicyStatement({
        sid: `Objects${i}`,
        actions: [...g.actions],
        resources: [t.buckets[g.bucket].arnForObjects(g.keys)],
      }),
    );
  });
  a.tables.forEach((g, i) => {
    out.push(
      new iam.PolicyStatement({
        sid: `Table${i}`,
        actions: [...g.actions],
        resources: [g.indexes ? `${t.tables[g.table].tableArn}/index/*` : t.tables[g.table].tableArn],
      }),
    );
  });
  return out;
}
