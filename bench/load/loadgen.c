/*
 * loadgen.c: the WebSocket load generator of wsgate's load benchmark.
 *
 * One thread, epoll (level-triggered), non-blocking sockets, batched writes
 * (every session's output is gathered during one epoll round and flushed
 * once at its end). It speaks RFC 6455 as a client: handshake with a random
 * Sec-WebSocket-Key whose Sec-WebSocket-Accept is checked, masked binary
 * frames, server frames with 7-bit, 16-bit and 64-bit lengths, fragmented
 * messages, ping (answered with pong), pong and close.
 *
 * Every echoed byte is checked. Message `seq` of session `id` is the byte
 * image of the 64-bit words T[k] ^ key(id, seq), where T is a random template,
 * so a lost, duplicated, reordered or corrupted message fails the run.
 *
 *   --mode ws      WebSocket client (default)
 *   --mode raw     plain TCP to the echo server: the generator's own ceiling
 *   --framing message   each echoed WebSocket message must be exactly one sent
 *                       message (wsgate with a length-prefix framing)
 *   --framing stream    the payloads of all received binary messages form one
 *                       byte stream per session (websockify raw, --mode raw)
 *
 * Workloads (--workload):
 *   latency  one session, one message in flight; --warm rounds unmeasured,
 *            then --count round trips; reports p50/p99/p999 in microseconds
 *   flow     --sessions sessions, each with --inflight messages of --size
 *            bytes in flight; --warmup s unmeasured, then --duration s;
 *            then drains (every sent message must come back) and closes
 *   churn    --warm sessions unmeasured, then --count sessions, --parallel at
 *            a time: open, one round trip of --size bytes, close; reports
 *            sessions/s over the --count sessions
 *   idle     opens and closes --warm sessions (one round trip each), prints
 *            "warm", waits for a line on stdin; opens --count sessions
 *            (--parallel handshakes at a time, one round trip each), prints
 *            "ready N", waits for a line on stdin; closes all
 *
 * The result is one JSON object on stdout; any protocol or content error is
 * printed on stderr and exits with status 1.
 *
 * Build: gcc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES (256 * 1024)
#define MAX_EVENTS 512
#define HANDSHAKE_BYTES 8192

enum { M_WS, M_RAW };
enum { F_MESSAGE, F_STREAM };
enum { W_LATENCY, W_FLOW, W_CHURN, W_IDLE };
enum { S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSING, S_DONE };
enum { P_SETUP, P_WARMUP, P_MEASURE, P_DRAIN, P_CLOSE, P_FINISHED };
enum { I_WARM_OPEN, I_WARM_CLOSE, I_WARM_HOLD, I_OPEN, I_HOLD, I_CLOSE };

static struct {
  int mode, framing, workload;
  const char *host;
  int port;
  const char *path;
  int sessions, inflight, parallel;
  size_t size;
  double duration, warmup, stall;
  long count, warm;
} cfg = {M_WS, F_MESSAGE, W_FLOW, "127.0.0.1", 0, "/", 1, 1, 16, 64,
         10.0, 1.0, 20.0, 10000, 1000};

typedef struct session {
  int fd, state;
  uint32_t id;
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  int out_armed, dirty, ready;
  char *hs;
  size_t hs_len;
  char accept[32];
  uint8_t hdr[14];
  unsigned hdr_len;
  int in_payload, msg_open;
  uint64_t pay_left;
  uint8_t opcode, fin;
  uint8_t ctl[125];
  unsigned ctl_len;
  uint64_t send_seq, recv_seq;
  size_t recv_off;
  int close_sent, close_recv;
  uint64_t sent_ns;
  struct session *next_free;
} session;

static int ep;
static uint64_t *tmpl;
static uint8_t *rbuf;
static uint64_t rng_state;
static struct sockaddr_in target;
static session **dirty_list;
static size_t dirty_len, dirty_cap;
static session *graveyard;
static uint32_t next_id;
static int stdin_tag;

static uint64_t now_ns_cache, last_progress_ns;
static int phase = P_SETUP;
static int idle_phase = I_WARM_OPEN;
static int stop_loop;
static long opened, closed, started, connecting, active;
static uint64_t inflight_total;
static uint64_t t_start, t_measure, t_end;
static uint64_t measured_msgs, total_msgs, close_no_reply;
static uint64_t *rtts;
static long rounds;
static session **all_sessions;
static size_t all_len, all_cap;

/* ---- small helpers ---------------------------------------------------- */

static void fail(const session *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (s) {
    fprintf(stderr, "loadgen: session %u (sent %llu, received %llu): ", s->id,
            (unsigned long long)s->send_seq, (unsigned long long)s->recv_seq);
  } else {
    fprintf(stderr, "loadgen: ");
  }
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng64(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* The per-message key: every message has its own content. */
static uint64_t msg_key(uint32_t id, uint64_t seq) {
  return splitmix64(((uint64_t)id << 40) ^ seq);
}

static uint8_t msg_byte(uint64_t key, size_t i) {
  return (uint8_t)((tmpl[i >> 3] ^ key) >> ((i & 7) * 8));
}

/* Checks p[0..n) against bytes [off, off+n) of the message with `key`. */
static long verify(const uint8_t *p, size_t n, size_t off, uint64_t key) {
  while (n && (off & 7)) {
    if (*p != msg_byte(key, off)) return (long)off;
    p++, off++, n--;
  }
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    if (w != (tmpl[off >> 3] ^ key)) {
      for (size_t j = 0; j < 8; j++) {
        if (p[j] != msg_byte(key, off + j)) return (long)(off + j);
      }
    }
    p += 8, off += 8, n -= 8;
  }
  while (n) {
    if (*p != msg_byte(key, off)) return (long)off;
    p++, off++, n--;
  }
  return -1;
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* ---- SHA-1 and base64, for the handshake ------------------------------ */

static uint32_t rol(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
                   0xC3D2E1F0};
  size_t total = ((len + 8) / 64 + 1) * 64;
  uint8_t *m = calloc(1, total);
  if (!m) fail(NULL, "out of memory");
  memcpy(m, msg, len);
  m[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) m[total - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (size_t off = 0; off < total; off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++) {
      const uint8_t *b = m + off + 4 * i;
      w[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
             (uint32_t)b[2] << 8 | b[3];
    }
    for (int i = 16; i < 80; i++) {
      w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d), k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d, k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d, k = 0xCA62C1D6;
      }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  free(m);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8);
    out[4 * i + 3] = (uint8_t)h[i];
  }
}

static void base64(const uint8_t *in, size_t len, char *out) {
  static const char tbl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < len) v |= in[i + 2];
    out[o++] = tbl[(v >> 18) & 63];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? tbl[v & 63] : '=';
  }
  out[o] = 0;
}

/* ---- output buffering ------------------------------------------------- */

static void mark_dirty(session *s) {
  if (s->dirty) return;
  if (dirty_len == dirty_cap) {
    dirty_cap = dirty_cap ? dirty_cap * 2 : 256;
    dirty_list = realloc(dirty_list, dirty_cap * sizeof *dirty_list);
    if (!dirty_list) fail(NULL, "out of memory");
  }
  dirty_list[dirty_len++] = s;
  s->dirty = 1;
}

static uint8_t *out_reserve(session *s, size_t n) {
  if (s->out_off > 0 && s->out_off == s->out_len) s->out_off = s->out_len = 0;
  if (s->out_len + n > s->out_cap) {
    if (s->out_off > 0) {
      memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
      s->out_len -= s->out_off;
      s->out_off = 0;
    }
    if (s->out_len + n > s->out_cap) {
      size_t cap = s->out_cap ? s->out_cap : 256;
      while (cap < s->out_len + n) cap *= 2;
      s->out = realloc(s->out, cap);
      if (!s->out) fail(s, "out of memory");
      s->out_cap = cap;
    }
  }
  mark_dirty(s);
  return s->out + s->out_len;
}

static void set_events(session *s, uint32_t events) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.ptr = s;
  if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) < 0) {
    fail(s, "epoll_ctl: %s", strerror(errno));
  }
}

static void finish(session *s);

static void flush_out(session *s) {
  while (s->out_off < s->out_len) {
    ssize_t n = write(s->fd, s->out + s->out_off, s->out_len - s->out_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (s->state == S_CLOSING) {
        finish(s);
        return;
      }
      fail(s, "write: %s", strerror(errno));
    }
    s->out_off += (size_t)n;
  }
  if (s->out_off == s->out_len) {
    s->out_off = s->out_len = 0;
    if (s->out_armed) {
      set_events(s, EPOLLIN | EPOLLRDHUP);
      s->out_armed = 0;
    }
  } else if (!s->out_armed) {
    set_events(s, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    s->out_armed = 1;
  }
}

/* Writes a final client frame's header up to its masking key (FIN, `opcode`,
 * the mask bit and the shortest length form); returns its length. */
static size_t write_client_header(uint8_t *d, uint8_t opcode, size_t len) {
  d[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    d[1] = (uint8_t)(0x80 | len);
    return 2;
  }
  if (len < 65536) {
    d[1] = 0x80 | 126;
    d[2] = (uint8_t)(len >> 8);
    d[3] = (uint8_t)len;
    return 4;
  }
  d[1] = 0x80 | 127;
  for (int i = 0; i < 8; i++) d[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  return 10;
}

/* Appends one masked client frame (or raw bytes in --mode raw). */
static void queue_frame(session *s, uint8_t opcode, const uint8_t *payload,
                        size_t len) {
  uint8_t *d = out_reserve(s, len + 14);
  size_t hl = write_client_header(d, opcode, len);
  uint32_t mask = (uint32_t)rng64();
  memcpy(d + hl, &mask, 4);
  const uint8_t *m = d + hl;
  hl += 4;
  for (size_t i = 0; i < len; i++) d[hl + i] = payload[i] ^ m[i & 3];
  s->out_len += hl + len;
}

/* Appends the next data message of the session, masked in 64-bit words. */
static void queue_message(session *s) {
  size_t len = cfg.size;
  uint64_t key = msg_key(s->id, s->send_seq);
  s->send_seq++;
  inflight_total++;
  if (cfg.workload == W_LATENCY) s->sent_ns = now_ns();
  if (cfg.mode == M_RAW) {
    uint8_t *d = out_reserve(s, len);
    size_t k = 0;
    for (; k + 8 <= len; k += 8) {
      uint64_t w = tmpl[k >> 3] ^ key;
      memcpy(d + k, &w, 8);
    }
    for (; k < len; k++) d[k] = msg_byte(key, k);
    s->out_len += len;
    return;
  }
  uint8_t *d = out_reserve(s, len + 14);
  size_t hl = write_client_header(d, 0x2, len);
  uint32_t mask32 = (uint32_t)rng64() | 1u; /* never the all-zero key */
  memcpy(d + hl, &mask32, 4);
  uint8_t mb[4];
  memcpy(mb, &mask32, 4);
  hl += 4;
  uint64_t mask64 = (uint64_t)mask32 | ((uint64_t)mask32 << 32);
  uint8_t *p = d + hl;
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    uint64_t w = tmpl[k >> 3] ^ key ^ mask64;
    memcpy(p + k, &w, 8);
  }
  for (; k < len; k++) p[k] = msg_byte(key, k) ^ mb[k & 3];
  s->out_len += hl + len;
}

/* ---- session life cycle ----------------------------------------------- */

static void start_session(void);
static void on_open(session *s);
static void on_message(session *s);
static void on_closed(session *s);

static void track(session *s) {
  if (all_len == all_cap) {
    all_cap = all_cap ? all_cap * 2 : 64;
    all_sessions = realloc(all_sessions, all_cap * sizeof *all_sessions);
    if (!all_sessions) fail(NULL, "out of memory");
  }
  all_sessions[all_len++] = s;
}

static void start_session(void) {
  session *s = calloc(1, sizeof *s);
  if (!s) fail(NULL, "out of memory");
  s->id = next_id++;
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) fail(s, "socket: %s", strerror(errno));
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(s->fd, (struct sockaddr *)&target, sizeof target);
  if (r < 0 && errno != EINPROGRESS) fail(s, "connect: %s", strerror(errno));
  s->state = S_CONNECTING;
  struct epoll_event ev;
  ev.events = EPOLLOUT | EPOLLRDHUP;
  ev.data.ptr = s;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
    fail(s, "epoll_ctl: %s", strerror(errno));
  }
  s->out_armed = 1;
  started++;
  connecting++;
  active++;
  track(s);
}

static void on_connected(session *s) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) fail(s, "connect to %s:%d: %s", cfg.host, cfg.port, strerror(err));
  set_events(s, EPOLLIN | EPOLLRDHUP);
  s->out_armed = 0;
  if (cfg.mode == M_RAW) {
    s->state = S_OPEN;
    on_open(s);
    return;
  }
  uint8_t nonce[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t v = rng64();
    memcpy(nonce + i, &v, 8);
  }
  char key[32];
  base64(nonce, 16, key);
  char concat[96];
  snprintf(concat, sizeof concat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
           key);
  uint8_t digest[20];
  sha1((const uint8_t *)concat, strlen(concat), digest);
  base64(digest, 20, s->accept);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\n"
                   "Host: %s:%d\r\n"
                   "Origin: http://%s:%d\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   cfg.path, cfg.host, cfg.port, cfg.host, cfg.port, key);
  memcpy(out_reserve(s, (size_t)n), req, (size_t)n);
  s->out_len += (size_t)n;
  s->state = S_HANDSHAKE;
  s->hs = malloc(HANDSHAKE_BYTES);
  if (!s->hs) fail(s, "out of memory");
}

/* Closes the socket; the memory is freed after the epoll round. */
static void finish(session *s) {
  if (s->state == S_DONE) return;
  if (s->send_seq != s->recv_seq) {
    fail(s, "closed with %llu messages not echoed",
         (unsigned long long)(s->send_seq - s->recv_seq));
  }
  if (cfg.mode == M_WS && !s->close_recv) close_no_reply++;
  epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  s->state = S_DONE;
  active--;
  closed++;
  s->next_free = graveyard;
  graveyard = s;
  on_closed(s);
}

static void start_close(session *s) {
  if (s->state != S_OPEN) return;
  if (cfg.mode == M_RAW) {
    finish(s);
    return;
  }
  uint8_t code[2] = {0x03, 0xE8}; /* 1000 */
  queue_frame(s, 0x8, code, 2);
  s->close_sent = 1;
  s->state = S_CLOSING;
}

/* ---- receive path ----------------------------------------------------- */

static void message_complete(session *s) {
  s->recv_seq++;
  inflight_total--;
  total_msgs++;
  on_message(s);
}

/* Payload bytes of binary data frames (or raw bytes). */
static void on_payload(session *s, const uint8_t *p, size_t n) {
  size_t size = cfg.size;
  if (cfg.framing == F_MESSAGE) {
    if (s->recv_seq >= s->send_seq) {
      fail(s, "received a message that was never sent");
    }
    if (s->recv_off + n > size) {
      fail(s, "received a message longer than the %zu bytes sent", size);
    }
    long bad = verify(p, n, s->recv_off, msg_key(s->id, s->recv_seq));
    if (bad >= 0) {
      fail(s, "content mismatch in message %llu at byte %ld",
           (unsigned long long)s->recv_seq, bad);
    }
    s->recv_off += n;
    return;
  }
  while (n > 0) {
    if (s->recv_seq >= s->send_seq) {
      fail(s, "received %zu bytes more than were sent", n);
    }
    size_t take = size - s->recv_off;
    if (take > n) take = n;
    long bad = verify(p, take, s->recv_off, msg_key(s->id, s->recv_seq));
    if (bad >= 0) {
      fail(s, "content mismatch in stream message %llu at byte %ld",
           (unsigned long long)s->recv_seq, bad);
    }
    s->recv_off += take;
    p += take;
    n -= take;
    if (s->recv_off == size) {
      s->recv_off = 0;
      message_complete(s);
      if (s->state == S_DONE) return;
    }
  }
}

static void on_frame_end(session *s) {
  uint8_t op = s->opcode;
  if (op >= 0x8) {
    if (op == 0x9) {
      if (s->state == S_OPEN) queue_frame(s, 0xA, s->ctl, s->ctl_len);
    } else if (op == 0x8) {
      s->close_recv = 1;
      if (s->state == S_OPEN) {
        unsigned code = s->ctl_len >= 2 ? (unsigned)(s->ctl[0] << 8 | s->ctl[1]) : 0;
        fail(s, "server closed the session: code %u reason \"%.*s\"", code,
             s->ctl_len > 2 ? (int)s->ctl_len - 2 : 0, (const char *)s->ctl + 2);
      }
      finish(s);
    }
    return;
  }
  if (!s->fin) return;
  s->msg_open = 0;
  if (cfg.framing == F_MESSAGE) {
    if (s->recv_off != cfg.size) {
      fail(s, "received a message of %zu bytes, expected %zu", s->recv_off,
           cfg.size);
    }
    s->recv_off = 0;
    message_complete(s);
  }
}

/* Streaming RFC 6455 parser: payloads are checked as they arrive. */
static void on_ws_bytes(session *s, const uint8_t *p, size_t n) {
  while (n > 0 && s->state != S_DONE) {
    if (!s->in_payload) {
      while (n > 0 && s->hdr_len < 2) s->hdr[s->hdr_len++] = *p++, n--;
      if (s->hdr_len < 2) return;
      unsigned len7 = s->hdr[1] & 0x7F;
      unsigned need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
      if (s->hdr[1] & 0x80) fail(s, "server sent a masked frame");
      while (n > 0 && s->hdr_len < need) s->hdr[s->hdr_len++] = *p++, n--;
      if (s->hdr_len < need) return;
      uint8_t b0 = s->hdr[0];
      if (b0 & 0x70) fail(s, "server set RSV bits: 0x%02x", b0);
      s->fin = b0 >> 7;
      s->opcode = b0 & 0x0F;
      uint64_t len = len7;
      if (len7 == 126) {
        len = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
      } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | s->hdr[2 + i];
        if (len >> 63) fail(s, "server sent a 64-bit length with the MSB set");
      }
      s->hdr_len = 0;
      uint8_t op = s->opcode;
      if (op >= 0x8) {
        if (op != 0x8 && op != 0x9 && op != 0xA) fail(s, "bad opcode %u", op);
        if (!s->fin || len > 125) fail(s, "bad control frame");
        s->ctl_len = 0;
      } else if (op == 0x2) {
        if (s->msg_open) fail(s, "new message inside a fragmented message");
        s->msg_open = 1;
      } else if (op == 0x0) {
        if (!s->msg_open) fail(s, "continuation frame without a message");
      } else if (op == 0x1) {
        fail(s, "server sent a text message");
      } else {
        fail(s, "bad opcode %u", op);
      }
      s->pay_left = len;
      s->in_payload = 1;
      if (len == 0) {
        s->in_payload = 0;
        on_frame_end(s);
      }
      continue;
    }
    size_t take = n < s->pay_left ? n : (size_t)s->pay_left;
    if (s->opcode >= 0x8) {
      memcpy(s->ctl + s->ctl_len, p, take);
      s->ctl_len += (unsigned)take;
    } else {
      on_payload(s, p, take);
    }
    p += take;
    n -= take;
    s->pay_left -= take;
    if (s->pay_left == 0) {
      s->in_payload = 0;
      on_frame_end(s);
    }
  }
}

static void on_handshake_bytes(session *s, const uint8_t *p, size_t n) {
  size_t room = HANDSHAKE_BYTES - 1 - s->hs_len;
  size_t take = n < room ? n : room;
  memcpy(s->hs + s->hs_len, p, take);
  s->hs_len += take;
  s->hs[s->hs_len] = 0;
  char *end = strstr(s->hs, "\r\n\r\n");
  if (!end) {
    if (s->hs_len >= HANDSHAKE_BYTES - 1) fail(s, "handshake response too long");
    return;
  }
  size_t head_len = (size_t)(end - s->hs) + 4;
  if (strncmp(s->hs, "HTTP/1.1 101", 12) != 0) {
    char *eol = strstr(s->hs, "\r\n");
    fail(s, "handshake refused: \"%.*s\"", (int)(eol - s->hs), s->hs);
  }
  int ok = 0;
  for (char *line = strstr(s->hs, "\r\n"); line && line < end;
       line = strstr(line + 2, "\r\n")) {
    char *h = line + 2;
    if (strncasecmp(h, "Sec-WebSocket-Accept:", 21) == 0) {
      char *v = h + 21;
      while (*v == ' ') v++;
      size_t al = strlen(s->accept);
      ok = strncmp(v, s->accept, al) == 0 && (v[al] == '\r' || v[al] == ' ');
    }
  }
  if (!ok) fail(s, "handshake has no valid Sec-WebSocket-Accept");
  /* Bytes after the head that arrived in the same read are frames. */
  size_t extra_in_buf = s->hs_len - head_len;
  size_t extra_total = extra_in_buf + (n - take);
  uint8_t *rest = malloc(extra_total ? extra_total : 1);
  if (!rest) fail(s, "out of memory");
  memcpy(rest, s->hs + head_len, extra_in_buf);
  memcpy(rest + extra_in_buf, p + take, n - take);
  free(s->hs);
  s->hs = NULL;
  s->state = S_OPEN;
  on_open(s);
  if (extra_total) on_ws_bytes(s, rest, extra_total);
  free(rest);
}

static void on_readable(session *s) {
  ssize_t n = read(s->fd, rbuf, READ_BYTES);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (s->state == S_CLOSING) {
      finish(s);
      return;
    }
    fail(s, "read: %s", strerror(errno));
  }
  if (n == 0) {
    if (s->state == S_CLOSING) {
      finish(s);
      return;
    }
    fail(s, "server closed the connection in state %d with %llu in flight",
         s->state, (unsigned long long)(s->send_seq - s->recv_seq));
  }
  last_progress_ns = now_ns_cache;
  if (s->state == S_HANDSHAKE) {
    on_handshake_bytes(s, rbuf, (size_t)n);
  } else if (cfg.mode == M_RAW) {
    on_payload(s, rbuf, (size_t)n);
  } else {
    on_ws_bytes(s, rbuf, (size_t)n);
  }
}

/* ---- workloads -------------------------------------------------------- */

static void say(const char *line) {
  fputs(line, stdout);
  fflush(stdout);
}

static void close_all(void) {
  for (size_t i = 0; i < all_len; i++) {
    if (all_sessions[i]->state == S_OPEN) start_close(all_sessions[i]);
  }
}

static long stdin_lines;
static int stdin_eof;

static void idle_fill(void) {
  if (idle_phase != I_WARM_OPEN && idle_phase != I_OPEN) return;
  long target = idle_phase == I_WARM_OPEN ? cfg.warm : cfg.count;
  while (started < target && connecting < cfg.parallel) start_session();
}

/* Leaves a hold phase once the driver has sent its line (or closed stdin). */
static void idle_advance(void) {
  if (idle_phase == I_WARM_HOLD && (stdin_lines >= 1 || stdin_eof)) {
    idle_phase = I_OPEN;
    started = 0;
    closed = 0;
    opened = 0;
    connecting = 0;
    all_len = 0;
    last_progress_ns = now_ns();
    idle_fill();
  } else if (idle_phase == I_HOLD && (stdin_lines >= 2 || stdin_eof)) {
    idle_phase = I_CLOSE;
    t_start = now_ns();
    last_progress_ns = t_start;
    close_all();
  }
}

static void on_open(session *s) {
  last_progress_ns = now_ns_cache;
  if (cfg.workload != W_IDLE) connecting--;
  if (cfg.workload == W_FLOW) {
    for (int i = 0; i < cfg.inflight; i++) queue_message(s);
    if (++opened == cfg.sessions) {
      t_start = now_ns();
      phase = cfg.warmup > 0 ? P_WARMUP : P_MEASURE;
      t_measure = t_start;
    }
    return;
  }
  queue_message(s);
}

static void on_message(session *s) {
  switch (cfg.workload) {
    case W_LATENCY: {
      uint64_t rtt = now_ns() - s->sent_ns;
      if (rounds >= cfg.warm) rtts[rounds - cfg.warm] = rtt;
      rounds++;
      if (rounds < cfg.warm + cfg.count) {
        queue_message(s);
      } else {
        start_close(s);
      }
      break;
    }
    case W_FLOW:
      if (phase == P_MEASURE) measured_msgs++;
      if (phase == P_SETUP || phase == P_WARMUP || phase == P_MEASURE) {
        queue_message(s);
      } else if (phase == P_DRAIN && inflight_total == 0) {
        phase = P_CLOSE;
        close_all();
      }
      break;
    case W_CHURN:
      start_close(s);
      break;
    case W_IDLE:
      s->ready = 1;
      connecting--;
      if (idle_phase == I_WARM_OPEN) {
        start_close(s);
      } else if (++opened == cfg.count) {
        idle_phase = I_HOLD;
        char line[64];
        snprintf(line, sizeof line, "ready %ld\n", opened);
        say(line);
        idle_advance();
      }
      idle_fill();
      break;
  }
}

static void on_closed(session *s) {
  (void)s;
  switch (cfg.workload) {
    case W_LATENCY:
    case W_FLOW:
      if (active == 0) stop_loop = 1;
      break;
    case W_CHURN:
      if (started < cfg.warm + cfg.count) start_session();
      if (closed == cfg.warm) t_start = now_ns();
      if (closed == cfg.warm + cfg.count) {
        t_end = now_ns();
        stop_loop = 1;
      }
      break;
    case W_IDLE:
      if (idle_phase == I_WARM_OPEN && closed == cfg.warm) {
        idle_phase = I_WARM_HOLD;
        say("warm\n");
        idle_advance();
      } else if (idle_phase == I_CLOSE && active == 0) {
        stop_loop = 1;
      }
      break;
  }
}

static void on_stdin(void) {
  char buf[256];
  ssize_t n = read(0, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    stdin_eof = 1;
    epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
  }
  for (ssize_t i = 0; i < n; i++) stdin_lines += buf[i] == '\n';
  idle_advance();
}

/* ---- main loop -------------------------------------------------------- */

static int is_waiting_for_stdin(void) {
  return cfg.workload == W_IDLE &&
         (idle_phase == I_WARM_HOLD || idle_phase == I_HOLD);
}

static void check_phase(void) {
  if (cfg.workload != W_FLOW) return;
  uint64_t now = now_ns_cache;
  if (phase == P_WARMUP && now >= t_start + (uint64_t)(cfg.warmup * 1e9)) {
    phase = P_MEASURE;
    t_measure = now;
    measured_msgs = 0;
  }
  if (phase == P_MEASURE &&
      now >= t_measure + (uint64_t)(cfg.duration * 1e9)) {
    phase = P_DRAIN;
    t_end = now;
    if (inflight_total == 0) {
      phase = P_CLOSE;
      close_all();
    }
  }
}

static void run_loop(void) {
  struct epoll_event events[MAX_EVENTS];
  now_ns_cache = last_progress_ns = now_ns();
  while (!stop_loop) {
    int timeout = 100;
    if (dirty_len > 0) timeout = 0;
    int n = epoll_wait(ep, events, MAX_EVENTS, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(NULL, "epoll_wait: %s", strerror(errno));
    }
    now_ns_cache = now_ns();
    for (int i = 0; i < n && !stop_loop; i++) {
      if (events[i].data.ptr == &stdin_tag) {
        on_stdin();
        continue;
      }
      session *s = events[i].data.ptr;
      if (s->state == S_DONE) continue;
      uint32_t e = events[i].events;
      if (s->state == S_CONNECTING) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(s);
        continue;
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(s);
      if (s->state != S_DONE && (e & EPOLLOUT)) flush_out(s);
    }
    check_phase();
    /* One write per session per round: everything queued goes together. */
    for (size_t i = 0; i < dirty_len; i++) {
      session *s = dirty_list[i];
      s->dirty = 0;
      if (s->state != S_DONE) flush_out(s);
    }
    dirty_len = 0;
    while (graveyard) {
      session *s = graveyard;
      graveyard = s->next_free;
      free(s->out);
      free(s->hs);
      free(s);
    }
    if (!is_waiting_for_stdin() && now_ns_cache > last_progress_ns &&
        now_ns_cache - last_progress_ns > (uint64_t)(cfg.stall * 1e9)) {
      fail(NULL,
           "stalled for %.0f s: %ld sessions active, %ld connecting, "
           "%llu messages in flight",
           cfg.stall, active, connecting, (unsigned long long)inflight_total);
    }
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, long n, double q) {
  long rank = (long)(q * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return (double)v[rank - 1] / 1000.0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port P [--host H] [--path /] [--mode ws|raw]\n"
          "  [--framing message|stream] [--workload latency|flow|churn|idle]\n"
          "  [--sessions N] [--inflight N] [--size BYTES] [--duration S]\n"
          "  [--warmup S] [--count N] [--warm N] [--parallel N] [--stall S]\n");
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--mode")) {
      cfg.mode = !strcmp(v, "raw") ? M_RAW : M_WS;
    } else if (!strcmp(a, "--framing")) {
      cfg.framing = !strcmp(v, "stream") ? F_STREAM : F_MESSAGE;
    } else if (!strcmp(a, "--workload")) {
      cfg.workload = !strcmp(v, "latency") ? W_LATENCY
                     : !strcmp(v, "churn") ? W_CHURN
                     : !strcmp(v, "idle")  ? W_IDLE
                                           : W_FLOW;
    } else if (!strcmp(a, "--host")) {
      cfg.host = v;
    } else if (!strcmp(a, "--port")) {
      cfg.port = atoi(v);
    } else if (!strcmp(a, "--path")) {
      cfg.path = v;
    } else if (!strcmp(a, "--sessions")) {
      cfg.sessions = atoi(v);
    } else if (!strcmp(a, "--inflight")) {
      cfg.inflight = atoi(v);
    } else if (!strcmp(a, "--parallel")) {
      cfg.parallel = atoi(v);
    } else if (!strcmp(a, "--size")) {
      cfg.size = (size_t)atol(v);
    } else if (!strcmp(a, "--duration")) {
      cfg.duration = atof(v);
    } else if (!strcmp(a, "--warmup")) {
      cfg.warmup = atof(v);
    } else if (!strcmp(a, "--stall")) {
      cfg.stall = atof(v);
    } else if (!strcmp(a, "--count")) {
      cfg.count = atol(v);
    } else if (!strcmp(a, "--warm")) {
      cfg.warm = atol(v);
    } else {
      usage();
    }
  }
  if (cfg.port <= 0 || cfg.size == 0 || cfg.sessions < 1 || cfg.inflight < 1 ||
      cfg.parallel < 1 || cfg.count < 1 || cfg.warm < 0) {
    usage();
  }
  if (cfg.mode == M_RAW) cfg.framing = F_STREAM;
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)cfg.port);
  if (inet_pton(AF_INET, cfg.host, &target.sin_addr) != 1) {
    fail(NULL, "bad host %s", cfg.host);
  }
  rng_state = splitmix64(now_ns() ^ ((uint64_t)getpid() << 32)) | 1;
  size_t words = cfg.size / 8 + 1;
  tmpl = malloc(words * 8);
  rbuf = malloc(READ_BYTES);
  if (!tmpl || !rbuf) fail(NULL, "out of memory");
  for (size_t k = 0; k < words; k++) tmpl[k] = rng64();
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fail(NULL, "epoll_create1: %s", strerror(errno));

  uint64_t t0 = now_ns();
  switch (cfg.workload) {
    case W_LATENCY:
      rtts = malloc((size_t)cfg.count * sizeof *rtts);
      if (!rtts) fail(NULL, "out of memory");
      start_session();
      break;
    case W_FLOW:
      for (int i = 0; i < cfg.sessions; i++) start_session();
      break;
    case W_CHURN:
      t_start = t0;
      for (int i = 0; i < cfg.parallel && started < cfg.warm + cfg.count;
           i++) {
        start_session();
      }
      break;
    case W_IDLE: {
      fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
      struct epoll_event ev;
      ev.events = EPOLLIN;
      ev.data.ptr = &stdin_tag;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0) {
        fail(NULL, "epoll_ctl stdin: %s", strerror(errno));
      }
      if (cfg.warm == 0) {
        idle_phase = I_WARM_HOLD;
        say("warm\n");
        idle_advance();
      } else {
        idle_fill();
      }
      break;
    }
  }
  run_loop();

  const char *mode = cfg.mode == M_RAW ? "raw" : "ws";
  const char *framing = cfg.framing == F_STREAM ? "stream" : "message";
  switch (cfg.workload) {
    case W_LATENCY: {
      qsort(rtts, (size_t)cfg.count, sizeof *rtts, cmp_u64);
      double sum = 0;
      for (long i = 0; i < cfg.count; i++) sum += (double)rtts[i];
      printf("{\"workload\":\"latency\",\"mode\":\"%s\",\"framing\":\"%s\","
             "\"round_trips\":%ld,\"size\":%zu,\"p50_us\":%.1f,"
             "\"p99_us\":%.1f,\"p999_us\":%.1f,\"min_us\":%.1f,"
             "\"max_us\":%.1f,\"mean_us\":%.1f,\"close_no_reply\":%llu}\n",
             mode, framing, cfg.count, cfg.size, pct_us(rtts, cfg.count, 0.5),
             pct_us(rtts, cfg.count, 0.99), pct_us(rtts, cfg.count, 0.999),
             (double)rtts[0] / 1000.0, (double)rtts[cfg.count - 1] / 1000.0,
             sum / (double)cfg.count / 1000.0,
             (unsigned long long)close_no_reply);
      break;
    }
    case W_FLOW: {
      double secs = (double)(t_end - t_measure) / 1e9;
      double bytes = (double)measured_msgs * (double)cfg.size;
      printf("{\"workload\":\"flow\",\"mode\":\"%s\",\"framing\":\"%s\","
             "\"sessions\":%d,\"inflight\":%d,\"size\":%zu,\"seconds\":%.3f,"
             "\"messages\":%llu,\"total_messages\":%llu,\"msgs_per_s\":%.1f,"
             "\"mb_per_s\":%.2f,\"close_no_reply\":%llu}\n",
             mode, framing, cfg.sessions, cfg.inflight, cfg.size, secs,
             (unsigned long long)measured_msgs, (unsigned long long)total_msgs,
             (double)measured_msgs / secs, bytes / 1e6 / secs,
             (unsigned long long)close_no_reply);
      break;
    }
    case W_CHURN: {
      double secs = (double)(t_end - t_start) / 1e9;
      printf("{\"workload\":\"churn\",\"mode\":\"%s\",\"framing\":\"%s\","
             "\"sessions\":%ld,\"parallel\":%d,\"seconds\":%.3f,"
             "\"sessions_per_s\":%.1f,\"close_no_reply\":%llu}\n",
             mode, framing, cfg.count, cfg.parallel, secs,
             (double)cfg.count / secs, (unsigned long long)close_no_reply);
      break;
    }
    case W_IDLE:
      printf("{\"workload\":\"idle\",\"mode\":\"%s\",\"framing\":\"%s\","
             "\"sessions\":%ld,\"close_seconds\":%.3f,\"close_no_reply\":%llu}\n",
             mode, framing, cfg.count, (double)(now_ns() - t_start) / 1e9,
             (unsigned long long)close_no_reply);
      break;
  }
  return 0;
}
