import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/conformance/memory.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          globalSetup: ['test/helpers/build-global-setup.ts'],
          include: ['test/integration/**/*.test.ts', 'test/conformance/redis.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
