import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000, // CLI tests start many processes; a loaded 2-core machine needs the room
    hookTimeout: 120_000,
    pool: 'forks',
    // two files at once even on two cores (vitest's default, cores − 1, ran one at a time here): many files
    // wait on child processes, openssl or timers, and the whole suite went from 1,570 s to 1,176 s at load 4–6
    // with every test passing (docs/testing.md)
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
  },
});
