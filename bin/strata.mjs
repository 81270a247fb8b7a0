#!/usr/bin/env node
// Runs the TypeScript command line through tsx, so `npx strata` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('./strata.ts');
