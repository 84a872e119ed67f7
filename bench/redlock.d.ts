// redlock 5.0.0-beta.2 ships types its `exports` map does not expose under
// `moduleResolution: nodenext`; this declares the part the benchmark uses.
declare module 'redlock' {
  import type { Redis } from 'ioredis';
  interface Lock {
    release(): Promise<unknown>;
  }
  export default class Redlock {
    constructor(
      clients: Redis[],
      settings?: { retryCount?: number; retryDelay?: number; retryJitter?: number },
    );
    acquire(resources: string[], duration: number): Promise<Lock>;
  }
}
