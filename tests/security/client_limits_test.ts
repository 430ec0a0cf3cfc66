import assert from "node:assert/strict";
import { ClientLimits } from "../../src/security/client_limits.ts";

Deno.test("ClientLimits.acquire refuses with per-ip once a client holds its maximum", () => {
  const limits = new ClientLimits({ maxSessions: 10, maxSessionsPerIp: 2 });
  assert.equal(limits.acquire("192.0.2.1"), "ok");
  assert.equal(limits.acquire("192.0.2.1"), "ok");
  assert.equal(limits.acquire("192.0.2.1"), "per-ip");
  assert.equal(limits.acquire("192.0.2.2"), "ok");
  assert.equal(limits.count("192.0.2.1"), 2);
  assert.equal(limits.total, 3);
});

Deno.test("ClientLimits.acquire refuses with total at capacity, before the per-ip check", () => {
  const limits = new ClientLimits({ maxSessions: 2, maxSessionsPerIp: 1 });
  assert.equal(limits.acquire("192.0.2.1"), "ok");
  assert.equal(limits.acquire("192.0.2.2"), "ok");
  assert.equal(limits.acquire("192.0.2.3"), "total");
  assert.equal(limits.acquire("192.0.2.1"), "total");
  assert.equal(limits.total, 2);
});

Deno.test("ClientLimits.release frees a slot and ignores a double release", () => {
  const limits = new ClientLimits({ maxSessions: 1, maxSessionsPerIp: 1 });
  assert.equal(limits.acquire("192.0.2.1"), "ok");
  assert.equal(limits.release("192.0.2.1"), true);
  assert.equal(limits.release("192.0.2.1"), false);
  assert.equal(limits.total, 0);
  assert.equal(limits.count("192.0.2.1"), 0);
  assert.equal(limits.acquire("192.0.2.2"), "ok");
  assert.equal(
    limits.release("192.0.2.1"),
    false,
    "another client's slot is not released",
  );
  assert.equal(limits.total, 1);
});

Deno.test("ClientLimits counts every spelling of an IPv4 address as one client", () => {
  const limits = new ClientLimits({ maxSessionsPerIp: 2 });
  assert.equal(limits.acquire("127.0.0.1"), "ok");
  assert.equal(limits.acquire("::ffff:127.0.0.1"), "ok");
  assert.equal(limits.acquire("::ffff:7f00:1"), "per-ip");
  assert.equal(limits.release("[::ffff:7f00:1]"), true);
  assert.equal(limits.count("127.0.0.1"), 1);
});

Deno.test("ClientLimits groups IPv6 clients by /64 unless told otherwise", () => {
  const limits = new ClientLimits({ maxSessionsPerIp: 1 });
  assert.equal(limits.acquire("2001:db8:1:2::1"), "ok");
  assert.equal(limits.acquire("2001:db8:1:2:ffff::9"), "per-ip");
  assert.equal(limits.acquire("2001:db8:1:3::1"), "ok");
  assert.equal(limits.clientKey("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
  const exact = new ClientLimits({
    maxSessionsPerIp: 1,
    ipv6PrefixLength: 128,
  });
  assert.equal(exact.acquire("2001:db8:1:2::1"), "ok");
  assert.equal(exact.acquire("2001:db8:1:2::2"), "ok");
  const odd = new ClientLimits({ ipv6PrefixLength: 60 });
  assert.equal(odd.clientKey("2001:db8:1:2f::1"), "2001:db8:1:20::/60");
});

Deno.test("ClientLimits keys a non-IP peer by its text", () => {
  const limits = new ClientLimits({ maxSessionsPerIp: 1 });
  assert.equal(limits.acquire("unix"), "ok");
  assert.equal(limits.acquire("unix"), "per-ip");
  assert.equal(limits.clientKey("unix"), "unix");
});

Deno.test("ClientLimits keeps no entry for a client with no session", () => {
  const limits = new ClientLimits({
    maxSessions: Infinity,
    maxSessionsPerIp: Infinity,
  });
  for (let i = 0; i < 100; i++) {
    assert.equal(limits.acquire(`10.0.0.${i}`), "ok");
  }
  assert.equal(limits.clientCount, 100);
  for (let i = 0; i < 100; i++) assert.ok(limits.release(`10.0.0.${i}`));
  assert.equal(limits.total, 0);
  assert.equal(limits.clientCount, 0);
});

Deno.test("ClientLimits rejects invalid caps with RangeError", async (t) => {
  const cases = [
    { maxSessions: 0 },
    { maxSessions: 1.5 },
    { maxSessionsPerIp: -1 },
    { maxSessionsPerIp: NaN },
    { ipv6PrefixLength: 129 },
    { ipv6PrefixLength: -1 },
  ];
  for (const options of cases) {
    await t.step(JSON.stringify(options), () => {
      assert.throws(() => new ClientLimits(options), RangeError);
    });
  }
});

Deno.test("ClientLimits keys stay right for repeated and for more distinct addresses than it remembers", () => {
  const limits = new ClientLimits({ maxSessions: 10_000, maxSessionsPerIp: 2 });
  for (let i = 0; i < 3000; i++) {
    const ip = `10.0.${i >> 8}.${i & 255}`;
    assert.equal(limits.acquire(ip), "ok");
    assert.equal(limits.clientKey(`[${ip}]`), ip);
  }
  for (let i = 0; i < 3000; i++) {
    const ip = `10.0.${i >> 8}.${i & 255}`;
    assert.equal(limits.acquire(ip), "ok");
    assert.equal(limits.acquire(ip), "per-ip");
    assert.equal(limits.release(ip), true);
    assert.equal(limits.release(ip), true);
    assert.equal(limits.release(ip), false);
  }
  assert.equal(limits.total, 0);
});

Deno.test("ClientLimits.acquire skips the per-ip cap for an exempt client but keeps the total cap and its count", () => {
  const limits = new ClientLimits({ maxSessions: 3, maxSessionsPerIp: 1 });
  const exempt = { isPerIpExempt: true };
  assert.equal(limits.acquire("unix", exempt), "ok");
  assert.equal(limits.acquire("unix", exempt), "ok");
  assert.equal(limits.count("unix"), 2);
  assert.equal(limits.acquire("unix"), "per-ip");
  assert.equal(limits.acquire("unix", exempt), "ok");
  assert.equal(limits.acquire("unix", exempt), "total");
  assert.equal(limits.release("unix"), true);
  assert.equal(limits.count("unix"), 2);
});
