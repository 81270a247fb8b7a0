/** How far a load has got, for a progress bar. */
export interface LoadProgress {
  readonly bytes: number;
  readonly totalBytes: number;
  readonly rows: number;
}

/** A step of a job starting, or done with how long it took and what it did. */
export interface StepEvent {
  readonly name: string;
  readonly status: 'start' | 'done';
  readonly ms?: number;
  readonly detail?: string;
}

/**
 * What a job tells whoever watches it (a progress bar, a log). All optional. A step's hook may return a
 * promise, which the step waits for: a watcher can act between two steps (a test publishes an upstream
 * product between a build's plan and its SQL).
 */
export interface JobHooks {
  readonly onLoadProgress?: (p: LoadProgress) => void;
  readonly onStep?: (step: StepEvent) => void | Promise<void>;
}

/** What a job's own work leaves on its run. */
export interface JobOutcome {
  readonly result: Record<string, unknown>;
  readonly lineage: Record<string, unknown>;
}

/**
 * Runs one named step of a job, telling the hooks when it starts and when it is done, with its time and what
 * `describe` says of its result. A step that throws is not reported done: the run's error says what failed.
 */
export async function step<T>(
  hooks: JobHooks,
  name: string,
  work: () => Promise<T>,
  describe?: (result: T) => string | undefined,
): Promise<T> {
  await hooks.onStep?.({ name, status: 'start' });
  const started = Date.now();
  const result = await work();
  const detail = describe?.(result);
  await hooks.onStep?.({
    name,
    status: 'done',
    ms: Date.now() - started,
    ...(detail === undefined ? {} : { detail }),
  });
  return result;
}
