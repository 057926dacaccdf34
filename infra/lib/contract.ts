// The env-var contract between the Rust workers and the stacks, checked on synthesized templates:
// - every ECS container sets all RESOURCE_VARS;
// - every variable a container (or the SageMaker model) gets is declared in env_names.rs;
// - resource variables, the endpoint name and secrets are references to resources of the right
//   kind (never literals), and the same resources the storage stack publishes for `make infra-env`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { envOutputKey } from './names';
import { Json, resolveRef, resourcesOfType, Templates } from './templates';

export interface RustEnvNames {
  readonly names: readonly string[];
  readonly resourceVars: readonly string[];
}

export const ENV_NAMES_RS = 'pipeline-core/src/config/env_names.rs';

/**
 * Variables a container may carry without being in env_names.rs: CDK sets AWS_REGION on awsvpc
 * tasks of the EC2 launch type (they cannot reach the instance metadata to learn the region);
 * the AWS SDK reads it, the workers' own code does not.
 */
export const PLATFORM_VARS: readonly string[] = ['AWS_REGION'];

/** Parses env_names.rs directly (independently of the generator used by the build). */
export function parseEnvNamesRs(text: string): RustEnvNames {
  const names: string[] = [];
  const constRe = /^\s*pub\s+const\s+([A-Z][A-Z0-9_]*)\s*:\s*&str\s*=\s*"([^"]*)"\s*;/;
  for (const line of text.split('\n')) {
    const m = constRe.exec(line);
    if (!m) continue;
    if (m[1] !== m[2]) throw new Error(`env_names.rs: ${m[1]} = "${m[2]}" (name and value differ)`);
    if (names.includes(m[1])) throw new Error(`env_names.rs: ${m[1]} declared twice`);
    names.push(m[1]);
  }
  const block = /pub\s+const\s+RESOURCE_VARS\s*:\s*&\[&str\]\s*=\s*&\[([^\]]*)\]/s.exec(text);
  if (!block) throw new Error('env_names.rs: no RESOURCE_VARS');
  const resourceVars = block[1]
    .split(',')
    .map((s) => s.replace(/\/\/.*$/gm, '').trim())
    .filter(Boolean);
  for (const r of resourceVars) if (!names.includes(r)) throw new Error(`env_names.rs: RESOURCE_VARS lists undeclared ${r}`);
  if (names.length === 0) throw new Error('env_names.rs: no `pub const NAME: &str = "NAME";` lines');
  return { names, resourceVars };
}

export function repoRoot(): string {
  return process.env.STEREOSPOT_ROOT ?? resolve(__dirname, '..', '..', '..');
}

export function readRustEnvNames(root = repoRoot()): RustEnvNames {
  return parseEnvNamesRs(readFileSync(resolve(root, ENV_NAMES_RS), 'utf8'));
}

/** What a variable's value must reference, by name. */
export const VALUE_RULES: ReadonlyArray<{ readonly match: RegExp; readonly type: string; readonly attr: string }> = [
  { match: /_BUCKET$/, type: 'AWS::S3::Bucket', attr: 'Ref' },
  { match: /_QUEUE_URL$/, type: 'AWS::SQS::Queue', attr: 'Ref' },
  { match: /_TABLE$/, type: 'AWS::DynamoDB::Table', attr: 'Ref' },
  { match: /^SAGEMAKER_ENDPOINT_NAME$/, type: 'AWS::SageMaker::Endpoint', attr: 'EndpointName' },
];

export interface ContainerEnv {
  readonly where: string;
  readonly stack: string;
  readonly environment: Array<{ Name: string; Value: Json }>;
  readonly secrets: Array<{ Name: string; ValueFrom: Json }>;
}

/** Containers of the task definitions that ECS services run. */
export function serviceContainers(templates: Templates): ContainerEnv[] {
  const out: ContainerEnv[] = [];
  for (const svc of resourcesOfType(templates, 'AWS::ECS::Service')) {
    const td = resolveRef(templates, svc.stack, svc.props.TaskDefinition);
    if (!td || td.type !== 'AWS::ECS::TaskDefinition') {
      throw new Error(`${svc.stack}/${svc.logicalId}: task definition is not a resolvable reference`);
    }
    const props = templates[td.stack].Resources[td.logicalId].Properties ?? {};
    for (const c of props.ContainerDefinitions ?? []) {
      out.push({
        where: `${svc.stack}/${svc.logicalId} container ${c.Name}`,
        stack: td.stack,
        environment: c.Environment ?? [],
        secrets: c.Secrets ?? [],
      });
    }
  }
  return out;
}

/** All contract violations (empty: the contract holds). */
export function checkContract(templates: Templates, rust: RustEnvNames): string[] {
  const errors: string[] = [];
  const declared = new Set(rust.names);
  const published = publishedResources(templates);

  const checkValue = (where: string, stack: string, name: string, value: Json): void => {
    const rule = VALUE_RULES.find((r) => r.match.test(name));
    const isResourceVar = rust.resourceVars.includes(name);
    if (!rule) {
      if (isResourceVar) errors.push(`${where}: no value rule for resource variable ${name}`);
      return;
    }
    const ref = resolveRef(templates, stack, value);
    if (!ref) {
      errors.push(`${where}: ${name} is ${JSON.stringify(value)}, not a reference to a ${rule.type}`);
      return;
    }
    if (ref.type !== rule.type || ref.attr !== rule.attr) {
      errors.push(`${where}: ${name} refers to ${ref.type}.${ref.attr} (${ref.logicalId}), expected ${rule.type}.${rule.attr}`);
      return;
    }
    const expected = published.get(name);
    if (expected && (expected.stack !== ref.stack || expected.logicalId !== ref.logicalId)) {
      errors.push(`${where}: ${name} refers to ${ref.stack}/${ref.logicalId}, the stack output names ${expected.stack}/${expected.logicalId}`);
    }
  };

  const containers = serviceContainers(templates);
  if (containers.length === 0) errors.push('no ECS service containers found');
  for (const c of containers) {
    const names = [...c.environment.map((e) => e.Name), ...c.secrets.map((s) => s.Name)];
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) errors.push(`${c.where}: ${n} set twice`);
      seen.add(n);
    }
    for (const r of rust.resourceVars) {
      if (!c.environment.some((e) => e.Name === r)) errors.push(`${c.where}: missing resource variable ${r}`);
    }
    for (const e of c.environment) {
      if (!declared.has(e.Name) && !PLATFORM_VARS.includes(e.Name)) {
        errors.push(`${c.where}: sets ${e.Name}, which ${ENV_NAMES_RS} does not declare`);
      }
      checkValue(c.where, c.stack, e.Name, e.Value);
    }
    for (const s of c.secrets) {
      if (!declared.has(s.Name)) errors.push(`${c.where}: secret ${s.Name} is not declared in ${ENV_NAMES_RS}`);
      const ref = resolveRef(templates, c.stack, s.ValueFrom);
      if (!ref || ref.type !== 'AWS::SecretsManager::Secret') {
        errors.push(`${c.where}: secret ${s.Name} is not a reference to a Secrets Manager secret`);
      }
    }
  }

  for (const m of resourcesOfType(templates, 'AWS::SageMaker::Model')) {
    const env = (m.props.PrimaryContainer?.Environment ?? {}) as Record<string, Json>;
    for (const [name, value] of Object.entries(env)) {
      const where = `${m.stack}/${m.logicalId}`;
      if (!declared.has(name)) errors.push(`${where}: sets ${name}, which ${ENV_NAMES_RS} does not declare`);
      checkValue(where, m.stack, name, value);
    }
  }

  // Every resource variable is published as a stack output (for `make infra-env`).
  for (const r of rust.resourceVars) {
    if (!published.has(r)) errors.push(`no stack output ${envOutputKey(r)} for ${r}`);
  }
  return errors;
}

/** Env var name -> the resource its `Env<NAME>` stack output (description `env NAME`) refers to. */
export function publishedResources(templates: Templates): Map<string, { stack: string; logicalId: string }> {
  const out = new Map<string, { stack: string; logicalId: string }>();
  for (const [stack, t] of Object.entries(templates)) {
    for (const [key, output] of Object.entries(t.Outputs ?? {})) {
      const name = typeof output.Description === 'string' ? /^env ([A-Z][A-Z0-9_]*)$/.exec(output.Description)?.[1] : undefined;
      if (!name || envOutputKey(name) !== key) continue;
      const ref = resolveRef(templates, stack, output.Value);
      if (ref) out.set(name, { stack: ref.stack, logicalId: ref.logicalId });
    }
  }
  return out;
}
