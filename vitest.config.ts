import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'test/unit/**/*.test.ts',
            'test/conformance/memory.test.ts',
            'test/fault/checkers.test.ts',
          ],
        },
      },
      {
        test: {
          name: 'integration',
          globalSetup: ['test/helpers/build-global-setup.ts'],
          include: [
            'test/integration/**/*.test.ts',
            'test/conformance/redis.test.ts',
            'test/conformance/postgres.test.ts',
            'test/conformance/etcd.test.ts',
            'test/conformance/redis-cluster.test.ts',
            'test/conformance/redis-sentinel.test.ts',
          ],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'fault',
          include: ['test/fault/**/*.test.ts'],
          exclude: ['test/fault/checkers.test.ts'],
          globalSetup: ['test/helpers/build-global-setup.ts'],
          // Real processes and timing: one scenario at a time on a 2-core machine.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
