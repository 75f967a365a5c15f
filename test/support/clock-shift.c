/*
 * Test fixture: an LD_PRELOAD shim that shifts a process's wall clock (CLOCK_REALTIME,
 * gettimeofday, time) by a number of milliseconds read, on every call, from an 8-byte file mapped
 * into memory (CLOCK_SHIFT_FILE). The test rewrites the file to step the clock of a running
 * redis-server forwards or back, as an NTP or VM clock step or a failover to a slower replica would.
 * Monotonic clocks are left alone. Raw syscalls keep it independent of libc's own clock paths (and of
 * jemalloc, which calls the clock while it initialises; libfaketime fails on that).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile long *shift_ms;

static long current_shift(void) {
  if (!shift_ms) {
    const char *path = getenv("CLOCK_SHIFT_FILE");
    if (!path) return 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
    if (fd < 0) return 0;
    void *m = mmap(NULL, sizeof(long), PROT_READ, MAP_SHARED, fd, 0);
    syscall(SYS_close, fd);
    if (m == MAP_FAILED) return 0;
    shift_ms = (volatile long *)m;
  }
  return *shift_ms;
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
  int r = (int)syscall(SYS_clock_gettime, clk, ts);
  if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE)) {
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + (long long)current_shift() * 1000000LL;
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
  }
  return r;
}

int gettimeofday(struct timeval *tv, void *tz) {
  struct timespec ts;
  int r = clock_gettime(CLOCK_REALTIME, &ts);
  if (r == 0 && tv) { tv->tv_sec = ts.tv_sec; tv->tv_usec = ts.tv_nsec / 1000; }
  (void)tz;
  return r;
}

time_t time(time_t *t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (t) *t = ts.tv_sec;
  return ts.tv_sec;
}
