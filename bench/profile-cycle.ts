/**
 * `node --cpu-prof .build/bench/profile-cycle.js [raw|tenure] [concurrency] [ap]`:
 * one implementation's lock cycle in a loop for a few seconds, for a CPU
 * profile of where the JavaScript per cycle goes (`ap`: a connection with
 * `enableAutoPipelining`). Not part of `npm run bench`.
 */
import { Redis } from 'ioredis';
import { RedisServer } from '../test/helpers/redis-server.js';
import { concurrently, scriptCalls } from './harness.js';
import { raw, tenure } from './implementations.js';

const which = process.argv[2] ?? 'tenure';
const workers = Number(process.argv[3] ?? 1);
const autopipe = process.argv[4] === 'ap';
const server = await RedisServer.start();
const admin = server.client();
const client = new Redis({
  host: '127.0.0.1',
  port: server.port,
  enableAutoPipelining: autopipe,
});
const impl = which === 'raw' ? await raw(client) : tenure(client, 'prof');
const cpu0 = process.cpuUsage();
const s0 = await scriptCalls(admin);
let failed = 0;
const cycles = await concurrently(workers, 4000, async (w, i) => {
  if (!(await impl.cycle(`p-${w}-${i}`))) failed++;
});
if (failed > 0) throw new Error(`${failed} cycles did not acquire`);
const cpu = process.cpuUsage(cpu0);
const scripts = (await scriptCalls(admin)) - s0;
console.log(
  `${which} x${workers}${autopipe ? ' auto-pipelined' : ''}: ${(cycles / 4).toFixed(0)} cycles/s, ${((cpu.user + cpu.system) / cycles).toFixed(1)} µs client CPU/cycle, ${(scripts / cycles).toFixed(2)} scripts/cycle`,
);
admin.disconnect();
client.disconnect();
await server.stop();
process.exit(0);
