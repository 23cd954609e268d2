import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000, // CLI tests start many processes; a loaded 2-core machine needs the room
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
