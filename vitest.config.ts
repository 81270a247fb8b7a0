import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every embedded database starts as a copy of one prepared image, made here before the files run.
    globalSetup: ['test/helpers/prepared-image.ts'],
    // PGlite with PostGIS takes seconds to start; integration files share one per file.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
