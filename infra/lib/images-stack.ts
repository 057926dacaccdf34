// Images: one ECR repository per Dockerfile in docker/. Deployed before the images are pushed
// and before the stacks that run them (see README "Deployment order").
import { CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';

/** Image name -> Dockerfile (docker/<image>.Dockerfile); `make images-push` builds each. */
export const IMAGES = {
  /** CPU image: media-worker, reassembler, and the video-worker when it runs on Fargate. */
  worker: 'worker',
  /** CUDA image: the video-worker on the GPU capacity provider. */
  videoWorkerGpu: 'video-worker-gpu',
  /** SageMaker serving container (inference-server on port 8080). */
  inference: 'inference',
} as const;
export type ImageKey = keyof typeof IMAGES;

export const KEEP_IMAGES = 10;

export class ImagesStack extends Stack {
  readonly repositories: Record<ImageKey, ecr.Repository>;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const entries = (Object.keys(IMAGES) as ImageKey[]).map((key) => {
      const name = IMAGES[key];
      const pascal = name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      const repo = new ecr.Repository(this, `${pascal}Repository`, {
        imageScanOnPush: true,
        // Tags are mutable so an operator can re-push a tag; deployments pin `-c imageTag=...`.
        imageTagMutability: ecr.TagMutability.MUTABLE,
        encryption: ecr.RepositoryEncryption.AES_256,
        lifecycleRules: [{ description: `keep the last ${KEEP_IMAGES} images`, maxImageCount: KEEP_IMAGES }],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // Output keys the Makefile reads: Image<Pascal>Uri, e.g. ImageVideoWorkerGpuUri.
      new CfnOutput(this, `Image${pascal}Uri`, {
        value: repo.repositoryUri,
        description: `ECR repository for docker/${name}.Dockerfile`,
      });
      return [key, repo] as const;
    });
    this.repositories = Object.fromEntries(entries) as Record<ImageKey, ecr.Repository>;
  }
}
