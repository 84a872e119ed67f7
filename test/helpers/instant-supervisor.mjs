// A stand-in supervisor for test/unit/supervised-command.test.ts: answers a spawn with
// 'started' and 'exited' in the same tick, so both reach the parent in one read of the
// channel (as a command that exits at once, or is killed at once by its schedule, can make
// the real supervisor do).
process.on('message', (message) => {
  if (message.t !== 'spawn') return;
  process.send({ t: 'started', pid: 999999 });
  process.send({ t: 'exited', code: 0, signal: null, cause: null });
});
process.on('disconnect', () => process.exit(0));
