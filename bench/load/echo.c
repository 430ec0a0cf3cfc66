/*
 * echo.c: the TCP echo backend of wsgate's load benchmark.
 *
 * One thread, epoll (level-triggered), non-blocking sockets. Every byte read
 * is written back on the same connection. When the peer does not read fast
 * enough, the unwritten tail is kept and the connection stops reading until
 * the tail is flushed (plain TCP backpressure, memory bounded by one read).
 *
 * Usage: echo [--host 127.0.0.1] [--port 0]
 * Prints "port N" on stdout once listening, then runs until SIGTERM/SIGINT.
 *
 * Build: gcc -O2 -o echo echo.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BYTES (256 * 1024)
#define MAX_EVENTS 512

/* Per-connection state: the bytes read but not yet written back. */
typedef struct {
  int fd;
  uint8_t *pending;
  size_t pending_len;
  size_t pending_off;
} conn_t;

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void die(const char *what) {
  fprintf(stderr, "echo: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void conn_close(int ep, conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pending);
  free(c);
}

/* Writes the pending tail; returns 0 when done or blocked, -1 on error. */
static int conn_flush(conn_t *c) {
  while (c->pending_off < c->pending_len) {
    ssize_t n = write(c->fd, c->pending + c->pending_off,
                      c->pending_len - c->pending_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    c->pending_off += (size_t)n;
  }
  c->pending_len = 0;
  c->pending_off = 0;
  return 0;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: echo [--host H] [--port P]\n");
      return 2;
    }
  }
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "echo: bad host %s\n", host);
    return 2;
  }
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  socklen_t alen = sizeof addr;
  if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
    die("getsockname");
  }
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev;
  ev.events = EPOLLIN;
  ev.data.ptr = NULL; /* NULL marks the listener */
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");

  uint8_t *buf = malloc(READ_BYTES);
  if (!buf) die("malloc");
  struct epoll_event events[MAX_EVENTS];
  while (!stopping) {
    int n = epoll_wait(ep, events, MAX_EVENTS, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (c == NULL) {
        /* Accept everything that is queued: connection bursts are batched. */
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_t *nc = calloc(1, sizeof *nc);
          if (!nc) die("calloc");
          nc->fd = fd;
          struct epoll_event cev;
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.ptr = nc;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) die("epoll_ctl");
        }
        continue;
      }
      uint32_t e = events[i].events;
      if (c->pending_len > 0) {
        /* Blocked on output: only EPOLLOUT (or an error) is of interest. */
        if (e & (EPOLLERR | EPOLLHUP)) {
          conn_close(ep, c);
          continue;
        }
        if (conn_flush(c) < 0) {
          conn_close(ep, c);
          continue;
        }
        if (c->pending_len == 0) {
          struct epoll_event cev;
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
        }
        continue;
      }
      ssize_t r = read(c->fd, buf, READ_BYTES);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(ep, c);
        continue;
      }
      if (r < 0) continue;
      size_t off = 0;
      while (off < (size_t)r) {
        ssize_t w = write(c->fd, buf + off, (size_t)r - off);
        if (w < 0) {
          if (errno == EINTR) continue;
          break;
        }
        off += (size_t)w;
      }
      if (off < (size_t)r) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          conn_close(ep, c);
          continue;
        }
        size_t rest = (size_t)r - off;
        c->pending = realloc(c->pending, rest);
        if (!c->pending) die("realloc");
        memcpy(c->pending, buf + off, rest);
        c->pending_len = rest;
        c->pending_off = 0;
        struct epoll_event cev;
        cev.events = EPOLLOUT;
        cev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
      }
    }
  }
  return 0;
}
