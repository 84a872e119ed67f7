/*
 * A command whose main thread exits while a worker thread goes on: the
 * process shows as a zombie in /proc/<pid>/stat (`ps` stat Zl) but runs.
 * It ignores SIGTERM; the worker appends `<TENURE_TERM> <CLOCK_MONOTONIC ns> <pid>`
 * to the ledger file argv[1] every 10 ms (the format of ledger-child.ts),
 * until SIGKILL. Built by mt-writer.ts with gcc.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static const char *term;

static void *work(void *arg) {
  (void)arg;
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    FILE *f = fopen(path, "a");
    if (f) {
      fprintf(f, "%s %lld%09ld %d\n", term, (long long)now.tv_sec, now.tv_nsec, (int)getpid());
      fclose(f);
    }
    usleep(10000);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 64;
  path = argv[1];
  term = getenv("TENURE_TERM") ? getenv("TENURE_TERM") : "0";
  signal(SIGTERM, SIG_IGN);
  pthread_t worker;
  if (pthread_create(&worker, NULL, work, NULL) != 0) return 71;
  pthread_exit(NULL);
}
