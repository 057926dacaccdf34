// Deployment settings, read from CDK context (`-c key=value` or cdk.json). Every value has a
// default that synthesises offline; `loadConfig` validates them so a typo fails `cdk synth`.
import { Node } from 'constructs';

export interface Config {
  /** Prefix of the stack names (`<prefix>-Storage`, ...) and of the bucket names. */
  readonly prefix: string;
  /** Tag of the images in ECR that the services and the SageMaker model run. */
  readonly imageTag: string;
  /** Deploy the SageMaker stack and switch the video-worker to INFERENCE_BACKEND=sagemaker. */
  readonly inference: boolean;
  /** Run the video-worker on the GPU EC2 capacity provider (else on Fargate, CPU image). */
  readonly videoWorkerGpu: boolean;
  readonly gpuInstanceType: string;
  readonly sagemakerInstanceType: string;
  /** Seconds the workers get after SIGTERM (SHUTDOWN_GRACE_SECONDS); stopTimeout follows it. */
  readonly shutdownGraceSeconds: number;
  readonly logRetentionDays: number;
  /** Origins allowed to GET/HEAD from the output bucket (browser playback). */
  readonly corsOrigins: string[];
  /** E-mail subscribed to the alarm topic (none when empty). */
  readonly alarmEmail: string;
  /** Upper bound of tasks per service (GPU video-worker: also of GPU instances, one task each). */
  readonly maxTasks: { mediaWorker: number; videoWorker: number; reassembler: number };
  /** Optional worker tuning passed through as env (unset: the worker's default). */
  readonly segmentSeconds?: string;
  readonly stereoLayout?: string;
  readonly divergence?: string;
  readonly convergence?: string;
  readonly modelPath?: string;
  readonly modelProfile?: string;
  /** SageMaker model artifact (`s3://bucket/key.tar.gz`), unpacked to /opt/ml/model. */
  readonly modelDataUrl?: string;
}

/** Fargate refuses a stopTimeout above 120 s; the container gets the grace plus this margin. */
export const STOP_TIMEOUT_MARGIN_SECONDS = 10;
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
/** Application Auto Scaling allows at most 20 step adjustments per policy (one per task). */
export const MAX_TASKS_LIMIT = 20;

export const DEFAULTS = {
  prefix: 'StereoSpot',
  imageTag: 'latest',
  inference: false,
  videoWorkerGpu: true,
  gpuInstanceType: 'g4dn.xlarge',
  sagemakerInstanceType: 'ml.g4dn.xlarge',
  shutdownGraceSeconds: 90,
  logRetentionDays: 30,
  corsOrigins: ['*'],
  alarmEmail: '',
  maxTasks: { mediaWorker: 4, videoWorker: 4, reassembler: 2 },
} as const;

export type ContextGetter = (key: string) => unknown;

function str(get: ContextGetter, key: string, dflt: string): string {
  const v = get(key);
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
    throw new Error(`context ${key}: expected a string, got ${JSON.stringify(v)}`);
  }
  return String(v);
}

function opt(get: ContextGetter, key: string): string | undefined {
  const v = str(get, key, '');
  return v === '' ? undefined : v;
}

function bool(get: ContextGetter, key: string, dflt: boolean): boolean {
  const v = get(key);
  if (v === undefined || v === null || v === '') return dflt;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new Error(`context ${key}: expected true or false, got ${JSON.stringify(v)}`);
}

function int(get: ContextGetter, key: string, dflt: number, min: number, max: number): number {
  const raw = str(get, key, String(dflt));
  if (!/^\d+$/.test(raw)) throw new Error(`context ${key}: expected an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`context ${key}: ${n} is outside ${min}..${max}`);
  return n;
}

export function loadConfig(get: ContextGetter): Config {
  const prefix = str(get, 'prefix', DEFAULTS.prefix);
  // Bucket names are `<prefix lowercased>-input-<account>-<region>`: keep them within 63 chars.
  if (!/^[A-Za-z][A-Za-z0-9]{0,15}$/.test(prefix)) {
    throw new Error(`context prefix: ${JSON.stringify(prefix)} must be 1-16 letters/digits, starting with a letter`);
  }
  const imageTag = str(get, 'imageTag', DEFAULTS.imageTag);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(imageTag)) {
    throw new Error(`context imageTag: ${JSON.stringify(imageTag)} is not a valid image tag`);
  }
  const inference = bool(get, 'inference', DEFAULTS.inference);
  const grace = int(get, 'shutdownGraceSeconds', DEFAULTS.shutdownGraceSeconds, 1, 3600);
  // Every worker with a Fargate task needs grace + margin <= 120 s.
  if (grace + STOP_TIMEOUT_MARGIN_SECONDS > FARGATE_MAX_STOP_TIMEOUT_SECONDS) {
    throw new Error(
      `context shutdownGraceSeconds: ${grace} + ${STOP_TIMEOUT_MARGIN_SECONDS} s margin exceeds Fargate's ` +
        `${FARGATE_MAX_STOP_TIMEOUT_SECONDS} s stopTimeout limit`,
    );
  }
  const corsOrigins = str(get, 'corsOrigins', DEFAULTS.corsOrigins.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    prefix,
    imageTag,
    inference,
    // With SageMaker doing the inference the video-worker needs no GPU of its own.
    videoWorkerGpu: bool(get, 'videoWorkerGpu', inference ? false : DEFAULTS.videoWorkerGpu),
    gpuInstanceType: str(get, 'gpuInstanceType', DEFAULTS.gpuInstanceType),
    sagemakerInstanceType: str(get, 'sagemakerInstanceType', DEFAULTS.sagemakerInstanceType),
    shutdownGraceSeconds: grace,
    logRetentionDays: int(get, 'logRetentionDays', DEFAULTS.logRetentionDays, 1, 3653),
    corsOrigins,
    alarmEmail: str(get, 'alarmEmail', DEFAULTS.alarmEmail),
    maxTasks: {
      mediaWorker: int(get, 'maxMediaWorkers', DEFAULTS.maxTasks.mediaWorker, 1, MAX_TASKS_LIMIT),
      videoWorker: int(get, 'maxVideoWorkers', DEFAULTS.maxTasks.videoWorker, 1, MAX_TASKS_LIMIT),
      reassembler: int(get, 'maxReassemblers', DEFAULTS.maxTasks.reassembler, 1, MAX_TASKS_LIMIT),
    },
    segmentSeconds: opt(get, 'segmentSeconds'),
    stereoLayout: opt(get, 'stereoLayout'),
    divergence: opt(get, 'divergence'),
    convergence: opt(get, 'convergence'),
    modelPath: opt(get, 'modelPath'),
    modelProfile: opt(get, 'modelProfile'),
    modelDataUrl: s3Url(opt(get, 'modelDataUrl')),
  };
}

function s3Url(v: string | undefined): string | undefined {
  if (v !== undefined && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(v)) {
    throw new Error(`context modelDataUrl: ${JSON.stringify(v)} is not s3://bucket/key`);
  }
  return v;
}

export function configFromNode(node: Node): Config {
  return loadConfig((k) => node.tryGetContext(k));
}

export function stopTimeoutSeconds(config: Config): number {
  return config.shutdownGraceSeconds + STOP_TIMEOUT_MARGIN_SECONDS;
}
