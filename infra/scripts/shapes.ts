// Prints the canonical JSON of the resource shapes (see lib/shapes.ts) of a synthesized app.
// Usage: node dist/scripts/shapes.js [cdk.out] [out.json]   (`make infra-shapes OUT=...`)
import { writeFileSync } from 'node:fs';
import { canonicalJson, extractShapes } from '../lib/shapes';
import { loadTemplates } from '../lib/templates';

function main(): void {
  const dir = process.argv[2] ?? 'cdk.out';
  const json = canonicalJson(extractShapes(loadTemplates(dir)));
  const out = process.argv[3];
  if (out) writeFileSync(out, json);
  else process.stdout.write(json);
}

try {
  main();
} catch (e) {
  console.error(`shapes: ${(e as Error).message}`);
  process.exit(1);
}
