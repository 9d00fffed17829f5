#!/usr/bin/env node
// The `sluice` bin: runs the TypeScript CLI through tsx, as every other entry point of the project.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
