// README and Makefile fragment stay in step with the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { CHECKOV_SKIPS } from '../lib/checkov-skips';

const infra = resolve(__dirname, '..', '..');
const read = (f: string): string => readFileSync(resolve(infra, f), 'utf8');

const TARGETS = [
  'infra-synth',
  'infra-diff',
  'infra-deploy',
  'infra-env',
  'ecr-login',
  'images-push',
  'update-hf-token',
  'infra-test',
  'infra-shapes',
  'docker-lint',
];

describe('docs', () => {
  it('README justifies every checkov skip', () => {
    const readme = read('README.md');
    for (const s of CHECKOV_SKIPS) assert.ok(readme.includes(s.id), `README lacks ${s.id}`);
  });

  it('infra.mk defines, and README documents, every operator target', () => {
    const [readme, mk] = [read('README.md'), read('infra.mk')];
    for (const t of TARGETS) {
      assert.match(mk, new RegExp(`^${t}:`, 'm'), `infra.mk lacks ${t}`);
      assert.ok(readme.includes(`make ${t}`), `README lacks make ${t}`);
    }
  });

  it('README says why CDK and not Terraform', () => {
    const readme = read('README.md');
    assert.match(readme, /Terraform/);
    assert.match(readme, /provider/);
  });
});
