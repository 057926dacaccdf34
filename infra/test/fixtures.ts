// Synthesized variants of the app, built once per test file.
import { Template } from 'aws-cdk-lib/assertions';
import { buildPipeline, Pipeline } from '../lib/pipeline-app';
import { Templates } from '../lib/templates';

export type Variant = 'default' | 'inference' | 'cpu';

const CONTEXT: Record<Variant, Record<string, string>> = {
  default: {},
  inference: { inference: 'true' },
  cpu: { videoWorkerGpu: 'false' },
};

const cache = new Map<Variant, { pipeline: Pipeline; templates: Templates }>();

export function synth(variant: Variant = 'default'): { pipeline: Pipeline; templates: Templates } {
  let hit = cache.get(variant);
  if (!hit) {
    const pipeline = buildPipeline({ context: CONTEXT[variant] });
    const assembly = pipeline.app.synth();
    const templates: Templates = {};
    for (const s of assembly.stacks) templates[s.stackName] = s.template;
    hit = { pipeline, templates };
    cache.set(variant, hit);
  }
  return hit;
}

export function template(stack: 'Storage' | 'Images' | 'Compute' | 'Inference', variant: Variant = 'default'): Template {
  const t = synth(variant).templates[`StereoSpot-${stack}`];
  if (!t) throw new Error(`variant ${variant} has no ${stack} stack`);
  return Template.fromJSON(t);
}

/** Logical id of the single resource of `type` whose id starts with `prefix`. */
export function logicalId(t: Template, type: string, prefix: string): string {
  const ids = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}
