// Reading synthesized CloudFormation templates and following references between them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = any;

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Json; Metadata?: Json; DependsOn?: string | string[] }>;
  Outputs?: Record<string, { Value: Json; Description?: string; Export?: { Name: Json } }>;
}

/** Stack name -> template. */
export type Templates = Record<string, CfnTemplate>;

/** Every `<stack>.template.json` in a cdk.out directory. */
export function loadTemplates(dir: string): Templates {
  const out: Templates = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.template.json')) continue;
    out[f.slice(0, -'.template.json'.length)] = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CfnTemplate;
  }
  if (Object.keys(out).length === 0) throw new Error(`no *.template.json in ${dir}`);
  return out;
}

/** A resolved construct reference: which resource of which stack, and which attribute. */
export interface ResourceRef {
  readonly stack: string;
  readonly logicalId: string;
  /** `Ref` or the Fn::GetAtt attribute name. */
  readonly attr: string;
  readonly type: string;
}

/**
 * Follows Ref, Fn::GetAtt and Fn::ImportValue (through the exporting stack's output) to the
 * resource a value refers to; undefined for literals and other expressions.
 */
export function resolveRef(templates: Templates, stack: string, value: Json): ResourceRef | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const template = templates[stack];
  if (!template) return undefined;
  if (keys[0] === 'Ref' && typeof value.Ref === 'string') {
    const res = template.Resources[value.Ref];
    return res ? { stack, logicalId: value.Ref, attr: 'Ref', type: res.Type } : undefined;
  }
  if (keys[0] === 'Fn::GetAtt' && Array.isArray(value['Fn::GetAtt'])) {
    const [id, attr] = value['Fn::GetAtt'] as [string, string];
    const res = template.Resources[id];
    return res ? { stack, logicalId: id, attr, type: res.Type } : undefined;
  }
  if (keys[0] === 'Fn::ImportValue' && typeof value['Fn::ImportValue'] === 'string') {
    const exportName = value['Fn::ImportValue'];
    for (const [otherStack, other] of Object.entries(templates)) {
      for (const output of Object.values(other.Outputs ?? {})) {
        if (output.Export && output.Export.Name === exportName) return resolveRef(templates, otherStack, output.Value);
      }
    }
  }
  return undefined;
}

export function resourcesOfType(templates: Templates, type: string): Array<{ stack: string; logicalId: string; props: Json }> {
  const out: Array<{ stack: string; logicalId: string; props: Json }> = [];
  for (const [stack, t] of Object.entries(templates)) {
    for (const [logicalId, r] of Object.entries(t.Resources)) {
      if (r.Type === type) out.push({ stack, logicalId, props: r.Properties ?? {} });
    }
  }
  return out;
}
