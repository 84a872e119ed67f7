/** The parent side of the supervisor: answers that arrive together are not lost. */
import { expect, it } from 'vitest';
import { Supervisor } from '../../src/cli/supervised-command.js';

it("an 'exited' that arrives with 'started' in one read still ends the run", async () => {
  const supervisor = new Supervisor(
    { graceMs: 0, killMarginMs: 10 },
    () => {},
    new URL('../helpers/instant-supervisor.mjs', import.meta.url),
  );
  try {
    for (let i = 0; i < 20; i++) {
      const running = await supervisor.run(['true'], {}, () => 10_000);
      const exit = await Promise.race([
        running.exited,
        new Promise((r) => setTimeout(() => r('lost'), 2_000)),
      ]);
      expect(exit, `run ${i}`).toEqual({ code: 0, signal: null, cause: null });
    }
  } finally {
    await supervisor.close();
  }
});
