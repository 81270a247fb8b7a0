// Worker threads do not inherit the TypeScript loader the command line registers: register it, then load
// the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./geojson-worker.ts');
