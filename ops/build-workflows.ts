// `npm run build:workflows`: bundles the workflow code once for production, so workers start
// without running webpack (workers/pipeline-worker.ts uses dist/workflow-bundle.js when present).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundlePath, workflowsPath } from '../workers/pipeline-worker.js';

const { code } = await bundleWorkflowCode({ workflowsPath });
mkdirSync(dirname(workflowBundlePath), { recursive: true });
writeFileSync(workflowBundlePath, code);
process.stdout.write(`wrote ${workflowBundlePath} (${(code.length / 1024).toFixed(0)} KiB)\n`);
