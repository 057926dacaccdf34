#!/usr/bin/env node
// The CDK app: `cdk synth` runs `node dist/bin/app.js` (see cdk.json).
import { buildPipeline } from '../lib/pipeline-app';

buildPipeline();
