// Checks the env-var contract (lib/contract.ts) on synthesized cdk.out directories.
// Usage: node dist/scripts/check-contract.js cdk.out [cdk.out.inference ...]
import { checkContract, ENV_NAMES_RS, readRustEnvNames } from '../lib/contract';
import { loadTemplates } from '../lib/templates';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error('usage: check-contract.js <cdk.out dir>...');
  process.exit(2);
}
let failed = false;
try {
  const rust = readRustEnvNames();
  for (const dir of dirs) {
    const errors = checkContract(loadTemplates(dir), rust);
    if (errors.length > 0) {
      failed = true;
      console.error(`contract FAILED for ${dir}:\n  ${errors.join('\n  ')}`);
    } else {
      console.log(
        `contract ok for ${dir}: ${rust.names.length} names from ${ENV_NAMES_RS}, ` +
          `${rust.resourceVars.length} resource vars on every service container`,
      );
    }
  }
} catch (e) {
  console.error(`contract: ${(e as Error).message}`);
  failed = true;
}
process.exit(failed ? 1 : 0);
