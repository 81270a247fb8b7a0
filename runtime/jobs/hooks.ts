import type { LoadProgress } from '../load/load.ts';

/** What a job tells whoever watches it (a progress bar, a log). All optional. */
export interface JobHooks {
  readonly onLoadProgress?: (p: LoadProgress) => void;
  readonly onStep?: (step: { name: string; status: 'start' | 'done'; ms?: number; detail?: string }) => void;
}
