// Data shapes shared with the Rust workers: DynamoDB keys, S3 prefixes, queue settings.
// (The Rust key layout lives in pipeline-core/src/domain/keys.rs.)
import { Duration } from 'aws-cdk-lib';
import { QueueRole } from './names';

export const KEYS = {
  inputPrefix: 'input/',
  segmentsPrefix: 'segments/',
  jobsPrefix: 'jobs/',
  outputSuffix: '.mp4',
} as const;

/**
 * Output segments (`jobs/<job>/segments/<i>.mp4`) carry this object tag; the 1-day expiry rule
 * filters on it because S3 lifecycle filters cannot wildcard the job id, and `final.mp4` (same
 * `jobs/` prefix) must be kept. The video-worker sets it on PutObject (`x-amz-tagging`).
 */
export const SEGMENT_TAG = { key: 'stereospot-kind', value: 'segment' } as const;
export const OUTPUT_SEGMENT_EXPIRY_DAYS = 1;
/** Kept depth (KEEP_DEPTH) for re-renders; the video-worker tags it (pipeline-core DEPTH_TAG). */
export const DEPTH_TAG = { key: 'stereospot-kind', value: 'depth' } as const;
export const KEPT_DEPTH_EXPIRY_DAYS = 30;
/** Source chunks in the input bucket outlive the 14-day DLQ retention, then expire. */
export const INPUT_SEGMENT_EXPIRY_DAYS = 15;

export const QUEUE_RETENTION = Duration.days(4);
export const DLQ_RETENTION = Duration.days(14);
/** 256 KiB: S3 event notifications and job messages are far smaller; the issue asks >= 64 KiB. */
export const MAX_MESSAGE_BYTES = 262_144;

export interface QueueSettings {
  readonly visibilityTimeout: Duration;
  readonly maxReceiveCount: number;
  /** Alarm when the oldest message is older than this. */
  readonly oldestMessageAlarm: Duration;
}

export const QUEUE_SETTINGS: Record<QueueRole, QueueSettings> = {
  chunking: { visibilityTimeout: Duration.minutes(15), maxReceiveCount: 4, oldestMessageAlarm: Duration.minutes(30) },
  'video-worker': { visibilityTimeout: Duration.minutes(30), maxReceiveCount: 4, oldestMessageAlarm: Duration.hours(1) },
  'segment-output': { visibilityTimeout: Duration.minutes(5), maxReceiveCount: 4, oldestMessageAlarm: Duration.minutes(30) },
  reassembly: { visibilityTimeout: Duration.minutes(10), maxReceiveCount: 4, oldestMessageAlarm: Duration.minutes(30) },
};

export const QUEUE_ROLES: readonly QueueRole[] = ['chunking', 'video-worker', 'segment-output', 'reassembly'];

export const TABLE_KEYS = {
  jobs: {
    partitionKey: 'job_id',
    gsis: [
      { name: 'status-created_at', partitionKey: 'status', sortKey: 'created_at' },
      { name: 'status-completed_at', partitionKey: 'status', sortKey: 'completed_at' },
    ],
  },
  segmentCompletions: { partitionKey: 'job_id', sortKey: 'segment_index' },
  reassemblyTriggered: { partitionKey: 'job_id', ttlAttribute: 'ttl' },
} as const;
