// The environment each worker container gets. Names come only from the generated module (from
// pipeline-core/src/config/env_names.rs); resource values only from construct references.
import { Config } from './config';
import { ENV, EnvName, ResourceVar } from './generated/env-names';
import { BucketRole, BUCKET_ENV, QueueRole, QUEUE_ENV, TableRole, TABLE_ENV, WorkerName } from './names';
import { QUEUE_SETTINGS } from './schemas';
import { StorageStack } from './storage-stack';

export type DepthDevice = 'cpu' | 'cuda';
export type InferenceBackend = 'local' | 'sagemaker';

export interface VideoWorkerMode {
  readonly depthDevice: DepthDevice;
  readonly backend: InferenceBackend;
  /** Required for the sagemaker backend (a construct reference to the endpoint's name). */
  readonly sagemakerEndpointName?: string;
}

/** The nine resource variables, each the reference of the resource it names. */
export function resourceEnv(storage: StorageStack): Record<ResourceVar, string> {
  const buckets = storage.buckets();
  const tables = storage.tables();
  const env: Partial<Record<ResourceVar, string>> = {};
  for (const [role, name] of Object.entries(BUCKET_ENV)) env[name] = buckets[role as BucketRole].bucketName;
  for (const [role, name] of Object.entries(QUEUE_ENV)) env[name] = storage.queues[role as QueueRole].queue.queueUrl;
  for (const [role, name] of Object.entries(TABLE_ENV)) env[name] = tables[role as TableRole].tableName;
  return env as Record<ResourceVar, string>;
}

function setIf(env: Partial<Record<EnvName, string>>, name: EnvName, value: string | undefined): void {
  if (value !== undefined) env[name] = value;
}

export function workerEnv(
  worker: WorkerName,
  config: Config,
  storage: StorageStack,
  video?: VideoWorkerMode,
): Partial<Record<EnvName, string>> {
  const env: Partial<Record<EnvName, string>> = {
    ...resourceEnv(storage),
    [ENV.LOG_FORMAT]: 'json',
    [ENV.SHUTDOWN_GRACE_SECONDS]: String(config.shutdownGraceSeconds),
  };
  if (worker === 'media-worker') {
    setIf(env, ENV.SEGMENT_SECONDS, config.segmentSeconds);
  }
  if (worker === 'reassembler') {
    // The sweeper's no-progress allowance per outstanding segment: three visibility timeouts of
    // the video-worker queue, from the queue's one definition (schemas.ts), so the reassembler
    // needs no access to that queue's attributes.
    env[ENV.SWEEP_STALL_SECONDS] = String(QUEUE_SETTINGS['video-worker'].visibilityTimeout.toSeconds() * 3);
  }
  if (worker === 'video-worker') {
    if (!video) throw new Error('video-worker env needs its mode');
    env[ENV.INFERENCE_BACKEND] = video.backend;
    if (video.backend === 'sagemaker') {
      if (!video.sagemakerEndpointName) throw new Error('sagemaker backend needs an endpoint name');
      env[ENV.SAGEMAKER_ENDPOINT_NAME] = video.sagemakerEndpointName;
    } else {
      env[ENV.DEPTH_DEVICE] = video.depthDevice;
      setIf(env, ENV.MODEL_PATH, config.modelPath);
    }
    // Both backends need the profile: the client resizes and normalises frames for the model,
    // and the inference server rejects a request whose profile differs from its own.
    setIf(env, ENV.MODEL_PROFILE, config.modelProfile);
    setIf(env, ENV.STEREO_LAYOUT, config.stereoLayout);
    setIf(env, ENV.DIVERGENCE, config.divergence);
    setIf(env, ENV.CONVERGENCE, config.convergence);
  }
  return env;
}
