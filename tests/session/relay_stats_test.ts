import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import {
  newSizeBuckets,
  NO_TRAFFIC,
  RelayStats,
  SIZE_BUCKET_COUNT,
  sizeBucket,
} from "../../src/session/relay_stats.ts";

const KIB = 1024;
const MIB = 1024 * 1024;

Deno.test("sizeBucket puts each power-of-4 edge in its own bucket and one byte more in the next", async (t) => {
  const edges = [
    16,
    64,
    256,
    KIB,
    4 * KIB,
    16 * KIB,
    64 * KIB,
    256 * KIB,
    MIB,
    4 * MIB,
  ];
  assertStrictEquals(edges.length, SIZE_BUCKET_COUNT - 1);
  for (const [index, edge] of edges.entries()) {
    await t.step(`${edge} -> ${index}, ${edge + 1} -> ${index + 1}`, () => {
      assertStrictEquals(sizeBucket(edge), index);
      assertStrictEquals(sizeBucket(edge + 1), index + 1);
      if (index > 0) {
        assertStrictEquals(sizeBucket(edges[index - 1]! + 1), index);
      }
    });
  }
});

Deno.test("sizeBucket puts empty and tiny messages in the first bucket", () => {
  for (const length of [0, 1, 2, 15, 16]) {
    assertStrictEquals(sizeBucket(length), 0, `length ${length}`);
  }
});

Deno.test("sizeBucket puts everything above 4 MiB, up to the 1 GiB framing cap, in the last bucket", () => {
  for (const length of [4 * MIB + 1, 16 * MIB, 1024 * MIB]) {
    assertStrictEquals(
      sizeBucket(length),
      SIZE_BUCKET_COUNT - 1,
      `length ${length}`,
    );
  }
});

Deno.test("sizeBucket is monotonic over every length up to 70000", () => {
  let previous = 0;
  for (let length = 0; length <= 70000; length++) {
    const bucket = sizeBucket(length);
    assert(bucket === previous || bucket === previous + 1, `length ${length}`);
    previous = bucket;
  }
  assertStrictEquals(previous, 7);
});

Deno.test("newSizeBuckets returns a fresh zeroed array each call", () => {
  const a = newSizeBuckets();
  const b = newSizeBuckets();
  assertEquals(a, new Array(SIZE_BUCKET_COUNT).fill(0));
  assert(a !== b);
  a[0]!++;
  assertStrictEquals(b[0], 0);
  assert(!Object.isFrozen(a));
});

Deno.test("NO_TRAFFIC is all zeros and frozen down to its bucket arrays", () => {
  assertEquals({ ...NO_TRAFFIC }, {
    bytesToBackend: 0,
    bytesToBrowser: 0,
    messagesToBackend: 0,
    messagesToBrowser: 0,
    sizesToBackend: new Array(SIZE_BUCKET_COUNT).fill(0),
    sizesToBrowser: new Array(SIZE_BUCKET_COUNT).fill(0),
  });
  assert(Object.isFrozen(NO_TRAFFIC));
  assert(Object.isFrozen(NO_TRAFFIC.sizesToBackend));
  assert(Object.isFrozen(NO_TRAFFIC.sizesToBrowser));
});

Deno.test("RelayStats counts bytes and messages per direction and keeps totals across take()", () => {
  const stats = new RelayStats();
  stats.countToBackend(10);
  stats.countToBackend(20);
  stats.countToBrowser(1000);
  const first = stats.take();
  assertEquals(
    [
      first.bytesToBackend,
      first.messagesToBackend,
      first.bytesToBrowser,
      first.messagesToBrowser,
    ],
    [30, 2, 1000, 1],
  );
  assertStrictEquals(first.sizesToBackend[sizeBucket(10)], 1);
  assertStrictEquals(first.sizesToBackend[sizeBucket(20)], 1);
  stats.countToBrowser(5);
  const second = stats.take();
  assertEquals([second.bytesToBrowser, second.messagesToBrowser], [5, 1]);
  assertStrictEquals(second.bytesToBackend, 0);
  assertStrictEquals(second.sizesToBackend, NO_TRAFFIC.sizesToBackend);
  assertEquals(
    [
      stats.bytesToBackend,
      stats.bytesToBrowser,
      stats.messagesToBackend,
      stats.messagesToBrowser,
    ],
    [30, 1005, 2, 2],
  );
});

Deno.test("RelayStats.take returns the shared NO_TRAFFIC while nothing moved", () => {
  const stats = new RelayStats();
  assertStrictEquals(stats.take(), NO_TRAFFIC);
  stats.countToBackend(1);
  stats.take();
  assertStrictEquals(stats.take(), NO_TRAFFIC);
});
