import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000, // CLI tests start many processes; a loaded 2-core machine needs the room
    hookTimeout: 120_000,
    pool: 'forks',
    // three files at once on two cores (vitest's default, cores − 1, ran one at a time here): many files
    // wait on child processes, openssl, timers or other servers, and each pays seconds of module imports.
    // One worker → two took the suite from 1,570 s to 1,176 s; two → three from 1,792 s to 1,427 s of vitest
    // time (7 Dec, every test passing; docs/testing.md)
    maxWorkers: Math.max(3, Math.min(availableParallelism() + 1, 12)), // at most 12: each file may hold PostgreSQL connections
    reporters: ['default'],
  },
});
