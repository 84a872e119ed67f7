/** `--help` texts, one per command. */
const STORE = `Store:
  --store <url>        or TENURE_STORE. redis://[user:pass@]host:port[/db],
                       rediss://…, redis+sentinel://host:port,…/<master>[/db],
                       redis+cluster://host:port,…, postgres://…, etcd://host:port,…
                       Redis kinds take ?waitReplicas=N&quarantineMs=N
  --namespace <ns>     or TENURE_NAMESPACE (default tenure): Redis namespace,
                       etcd prefix <ns>/, PostgreSQL table <ns>_leases
  --json               machine-readable output (JSON lines)
  -v, --verbose        more logging on stderr
  -h, --help           this help`;

const TIMING = `Timing (milliseconds):
  --lease-ms <n>       lease ttl (default 15000)
  --renew-ms <n>       renew every n (default lease/3)
  --grace-ms <n>       SIGTERM → SIGKILL grace (default: the most the lease allows, ≤ 10000)
  --kill-margin-ms <n> the command is SIGKILLed this long before the lease deadline (default 250)`;

export const HELP: Readonly<Record<string, string>> = {
  main: `tenure: leader election and lease locks from the command line

Usage: tenure <command> [options]

Commands:
  run <election> -- <command…>   run a command on exactly one instance (the leader)
  lock <name> -- <command…>      run a command once while holding a lock
  status                          every lease and election held now
  observe <election>              the leader, then each change, until interrupted
  init                            prepare the store (creates the PostgreSQL table)

Run \`tenure <command> --help\` for its options. Exit codes: 0 ok, 64 usage,
69 store unavailable, 70 internal error, 75 lock not acquired, 76 lock lost,
78 store not set up (run \`tenure init\`).`,
  run: `Usage: tenure run <election> [options] -- <command> [args…]

Campaigns for <election>; while leading, runs the command with TENURE_ELECTION,
TENURE_TERM (fencing token) and TENURE_IDENTITY set. When leadership ends the
command's process group gets SIGTERM, then SIGKILL, and is dead before the
lease deadline. SIGTERM/SIGINT stops the command, releases the lease, exits 0.

Options:
  --restart <policy>   on-failure (default), always, never: after the command
                       exits on its own; tenure run then exits with its status
  --restart-delay-ms <n>  first restart delay, doubling to 30000 (default 1000)
  --max-failures <n>   give up leadership (release, exit with the command's
                       status) after n failures in a row (default 5; 0: never);
                       a command that cannot be started (exit 126, 127) gives up at once
  --identity <id>      published with the lease (default host:pid:random)
  --data <json>        published with the lease, shown by status/observe
  --data-string <s>    the same, as plain text
  --metrics-port <n>   serve /metrics, /healthz, /leader (needs prom-client)
  --metrics-host <h>   default 127.0.0.1
${TIMING}
${STORE}`,
  lock: `Usage: tenure lock <name> [options] -- <command> [args…]

Runs the command once while holding the lock <name>, with TENURE_LOCK,
TENURE_TERM (fencing token) and TENURE_IDENTITY set; the lock is renewed
while it runs and released after. Exits with the command's status, 75 if the
lock was not acquired within --wait-ms, 76 if it was lost (the command was
stopped before the lease deadline).

Options:
  --wait-ms <n>        how long to wait for the lock, connecting included;
                       0 tries once (default: forever)
  --identity <id>      published with the lock
  --data <json>        published with the lock
  --data-string <s>    the same, as plain text
${TIMING}
${STORE}`,
  status: `Usage: tenure status [--prefix <p>] [options]

Every lease held now under the namespace: name, holder, term, remaining, data.

Options:
  --prefix <p>         only names starting with p
${STORE}`,
  observe: `Usage: tenure observe <election> [options]

Prints the current leader (or "no leader"), then one line per change, until
SIGINT/SIGTERM.

${STORE}`,
  init: `Usage: tenure init [options]

Creates the PostgreSQL lease table <namespace>_leases (idempotent). Redis and
etcd need nothing.

${STORE}`,
};
