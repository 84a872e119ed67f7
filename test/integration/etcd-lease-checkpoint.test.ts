/**
 * What an etcd leader change does to a lease's remaining ttl, with and
 * without `--experimental-enable-lease-checkpoint` (etcd 3.4). The docs
 * rely on it: a leader change may lengthen a lease (the name is freed later
 * after a crashed holder) but never shortens it (the holder's deadline stays
 * safe). With etcd 3.4.23 the flag makes no difference for leases as short
 * as tenure's: its checkpoints cover only leases with more than its fixed
 * 5-minute checkpoint interval left, so both clusters give the lease its
 * full ttl again.
 */
import { describe, expect, it } from 'vitest';
import { EtcdCluster } from '../helpers/etcd-cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('etcd lease ttl across an etcd leader change', () => {
  for (const checkpoint of [true, false]) {
    it(`${checkpoint ? 'with' : 'without'} --experimental-enable-lease-checkpoint: never shorter; for a 10 s lease, the full ttl again`, async () => {
      const cluster = await EtcdCluster.start({ checkpoint });
      try {
        const client = cluster.client();
        const { ID } = await client.leaseClient.leaseGrant({ TTL: 10 });
        await sleep(3000);
        const before = Number((await client.leaseClient.leaseTimeToLive({ ID })).TTL);
        expect(before).toBeLessThanOrEqual(7);
        await cluster.members[await cluster.leaderIndex()]?.terminate('SIGKILL');
        let after = -1;
        await expect
          .poll(
            async () => {
              after = Number((await client.leaseClient.leaseTimeToLive({ ID })).TTL);
              return after;
            },
            { timeout: 10_000 },
          )
          .toBeGreaterThanOrEqual(before);
        expect(after).toBeGreaterThanOrEqual(8); // reset to (about) the full 10 s
      } finally {
        await cluster.stop();
      }
    });
  }
});
