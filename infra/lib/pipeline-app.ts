// Builds every stack of the app; bin/app.ts and the tests share it.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, AppProps, Tags } from 'aws-cdk-lib';
import { ComputeStack } from './compute-stack';
import { Config, configFromNode } from './config';
import { applyCheckovSkips } from './checkov-skips';
import { ImagesStack } from './images-stack';
import { InferenceStack } from './inference-stack';
import { stackNames } from './names';
import { StorageStack } from './storage-stack';
import { loadWebSettings, WebStack } from './web-stack';

export interface Pipeline {
  readonly app: App;
  readonly config: Config;
  readonly storage: StorageStack;
  readonly images: ImagesStack;
  readonly inference?: InferenceStack;
  readonly compute: ComputeStack;
  /** Present when `-c web=true`: the web-ui service behind an HTTPS load balancer. */
  readonly web?: WebStack;
}

/** The feature flags of cdk.json, so tests and `node dist/bin/app.js` build what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const file = resolve(__dirname, '..', '..', 'cdk.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> };
  return json.context ?? {};
}

export function buildPipeline(props: AppProps = {}): Pipeline {
  const app = new App({
    analyticsReporting: false,
    ...props,
    context: { ...cdkJsonContext(), ...(props.context ?? {}) },
  });
  const config = configFromNode(app.node);
  const names = stackNames(config.prefix);
  // Stacks are environment-agnostic: account and region come from the CLI's credentials at deploy.
  const storage = new StorageStack(app, names.storage, {
    config,
    description: 'StereoSpot storage: buckets, queues with DLQs, tables, model-download token',
  });
  const images = new ImagesStack(app, names.images, { description: 'StereoSpot ECR repositories' });
  const inference = config.inference
    ? new InferenceStack(app, names.inference, {
        config,
        repository: images.repositories.inference,
        description: 'StereoSpot SageMaker depth inference endpoint',
      })
    : undefined;
  const compute = new ComputeStack(app, names.compute, {
    config,
    storage,
    images,
    inference,
    description: 'StereoSpot compute: VPC, ECS cluster, worker services, scaling, alarms',
  });
  const webSettings = loadWebSettings((k) => app.node.tryGetContext(k));
  const web = webSettings
    ? new WebStack(app, `${config.prefix}-Web`, {
        config,
        web: webSettings,
        storage,
        images,
        vpc: compute.vpc,
        cluster: compute.cluster,
        description: 'StereoSpot web-ui: HTTPS load balancer and the web-ui service',
      })
    : undefined;
  for (const stack of [storage, images, inference, compute, web]) {
    if (stack) Tags.of(stack).add('project', 'stereospot');
  }
  applyCheckovSkips(app);
  return { app, config, storage, images, inference, compute, web };
}
