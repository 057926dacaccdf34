// The resource shapes the Rust `smoke-test provision` must reproduce locally, read from the
// synthesized templates: table keys/GSIs/TTL, bucket notification rules, queue timeouts/redrive.
// Resources are identified through the storage stack's `Env<NAME>` outputs, so roles follow the
// env var names (INPUT_BUCKET -> input, CHUNKING_QUEUE_URL -> chunking, ...).
import { publishedResources } from './contract';
import { BucketRole, BUCKET_ENV, QueueRole, QUEUE_ENV, TableRole, TABLE_ENV } from './names';
import { Json, resolveRef, Templates } from './templates';

export interface KeyAttr {
  readonly name: string;
  /** DynamoDB scalar type: S, N or B. */
  readonly type: string;
}

export interface TableShape {
  readonly partition_key: KeyAttr;
  readonly sort_key: KeyAttr | null;
  readonly gsis: Array<{ name: string; partition_key: KeyAttr; sort_key: KeyAttr | null; projection: string }>;
  readonly ttl_attribute: string | null;
}

export interface NotificationShape {
  readonly event: string;
  readonly prefix: string | null;
  readonly suffix: string | null;
  readonly queue: QueueRole;
}

export interface QueueShape {
  readonly visibility_timeout_seconds: number;
  readonly dlq_max_receive_count: number;
}

export interface Shapes {
  readonly buckets: Record<BucketRole, { notifications: NotificationShape[] }>;
  readonly queues: Record<QueueRole, QueueShape>;
  readonly tables: Record<TableRole, TableShape>;
}

function locate(templates: Templates, name: string, type: string): { stack: string; props: Json } {
  const published = publishedResources(templates).get(name);
  if (!published) throw new Error(`no stack output publishes ${name}`);
  const res = templates[published.stack].Resources[published.logicalId];
  if (res.Type !== type) throw new Error(`${name} is a ${res.Type}, expected ${type}`);
  return { stack: published.stack, props: res.Properties ?? {} };
}

function keyAttrs(keySchema: Json[], attrs: Json[]): { partition_key: KeyAttr; sort_key: KeyAttr | null } {
  const typeOf = (n: string): string => {
    const d = attrs.find((a) => a.AttributeName === n);
    if (!d) throw new Error(`key attribute ${n} has no AttributeDefinition`);
    return d.AttributeType;
  };
  const hash = keySchema.find((k) => k.KeyType === 'HASH');
  const range = keySchema.find((k) => k.KeyType === 'RANGE');
  if (!hash) throw new Error('key schema without HASH key');
  return {
    partition_key: { name: hash.AttributeName, type: typeOf(hash.AttributeName) },
    sort_key: range ? { name: range.AttributeName, type: typeOf(range.AttributeName) } : null,
  };
}

export function extractShapes(templates: Templates): Shapes {
  const published = publishedResources(templates);
  const queueRoleOf = (stack: string, value: Json): QueueRole => {
    const ref = resolveRef(templates, stack, value);
    for (const [role, name] of Object.entries(QUEUE_ENV) as Array<[QueueRole, string]>) {
      const p = published.get(name);
      if (ref && p && p.stack === ref.stack && p.logicalId === ref.logicalId) return role;
    }
    throw new Error(`notification target ${JSON.stringify(value)} is not a pipeline queue`);
  };

  const tables = {} as Record<TableRole, TableShape>;
  for (const [role, name] of Object.entries(TABLE_ENV) as Array<[TableRole, string]>) {
    const { props } = locate(templates, name, 'AWS::DynamoDB::Table');
    const attrs = props.AttributeDefinitions ?? [];
    const ttl = props.TimeToLiveSpecification;
    tables[role] = {
      ...keyAttrs(props.KeySchema, attrs),
      gsis: (props.GlobalSecondaryIndexes ?? [])
        .map((g: Json) => ({
          name: g.IndexName as string,
          ...keyAttrs(g.KeySchema, attrs),
          projection: g.Projection?.ProjectionType ?? 'ALL',
        }))
        .sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name)),
      ttl_attribute: ttl && ttl.Enabled ? ttl.AttributeName : null,
    };
  }

  const queues = {} as Record<QueueRole, QueueShape>;
  for (const [role, name] of Object.entries(QUEUE_ENV) as Array<[QueueRole, string]>) {
    const { props } = locate(templates, name, 'AWS::SQS::Queue');
    const redrive = props.RedrivePolicy;
    if (!redrive || typeof redrive.maxReceiveCount !== 'number') throw new Error(`${name}: no dead-letter queue`);
    queues[role] = {
      visibility_timeout_seconds: Number(props.VisibilityTimeout ?? 30),
      dlq_max_receive_count: redrive.maxReceiveCount,
    };
  }

  const buckets = {} as Record<BucketRole, { notifications: NotificationShape[] }>;
  for (const [role, name] of Object.entries(BUCKET_ENV) as Array<[BucketRole, string]>) {
    const { stack, props } = locate(templates, name, 'AWS::S3::Bucket');
    const configs: Json[] = props.NotificationConfiguration?.QueueConfigurations ?? [];
    buckets[role] = {
      notifications: configs
        .map((c) => {
          const rules: Json[] = c.Filter?.S3Key?.Rules ?? [];
          const rule = (n: string): string | null => rules.find((r) => String(r.Name).toLowerCase() === n)?.Value ?? null;
          return { event: c.Event, prefix: rule('prefix'), suffix: rule('suffix'), queue: queueRoleOf(stack, c.Queue) };
        })
        .sort((a, b) => `${a.prefix}|${a.suffix}`.localeCompare(`${b.prefix}|${b.suffix}`)),
    };
  }
  return { buckets, queues, tables };
}

/** JSON with object keys sorted at every level, 2-space indent, trailing newline. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}
