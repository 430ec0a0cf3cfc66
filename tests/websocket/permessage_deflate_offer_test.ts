import assert from "node:assert/strict";
import {
  formatDeflateResponse,
  negotiateDeflate,
  parseDeflateOffers,
} from "../../src/websocket/permessage_deflate_offer.ts";

Deno.test("parseDeflateOffers reads every parameter with and without value", () => {
  assert.deepEqual(
    parseDeflateOffers(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits="10"',
    ),
    [{
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 10,
    }],
  );
  assert.deepEqual(
    parseDeflateOffers("Permessage-Deflate ;client_max_window_bits"),
    [{
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      clientMaxWindowBits: true,
    }],
  );
});

Deno.test("parseDeflateOffers keeps multiple offers in order and skips other extensions", () => {
  const offers = parseDeflateOffers(
    "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10, permessage-deflate",
  );
  assert.equal(offers.length, 2);
  assert.equal(offers[0]?.serverMaxWindowBits, 10);
  assert.equal(offers[1]?.serverMaxWindowBits, undefined);
});

Deno.test("parseDeflateOffers drops a malformed or duplicated offer", async (t) => {
  const bad = [
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=010",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; unknown_param",
  ];
  for (const header of bad) {
    await t.step(header, () => {
      assert.deepEqual(parseDeflateOffers(header), []);
      // The next, valid offer is still taken.
      assert.equal(
        parseDeflateOffers(`${header}, permessage-deflate`).length,
        1,
      );
    });
  }
});

Deno.test("negotiateDeflate keeps context takeover by default", () => {
  const agreement = negotiateDeflate(
    parseDeflateOffers("permessage-deflate; client_max_window_bits"),
    {},
  );
  assert.deepEqual(agreement, {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
  assert.equal(
    formatDeflateResponse(agreement!, { isClientWindowOffered: true }),
    "permessage-deflate",
  );
});

Deno.test("negotiateDeflate goes context-free when the route or the budget says so", () => {
  const offers = parseDeflateOffers("permessage-deflate");
  for (
    const [settings, exhausted] of [
      [{ contextTakeover: false }, false],
      [{}, true],
    ] as const
  ) {
    const agreement = negotiateDeflate(offers, settings, {
      isBudgetExhausted: exhausted,
    });
    assert.equal(agreement?.serverNoContextTakeover, true);
    assert.equal(agreement?.clientNoContextTakeover, true);
    assert.equal(
      formatDeflateResponse(agreement!),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
  }
});

Deno.test("negotiateDeflate honours the client's request to drop server context", () => {
  const agreement = negotiateDeflate(
    parseDeflateOffers("permessage-deflate; server_no_context_takeover"),
    {},
  );
  assert.equal(agreement?.serverNoContextTakeover, true);
  assert.equal(agreement?.clientNoContextTakeover, false);
});

Deno.test("negotiateDeflate declines an offer that cannot limit the client window to the route's", () => {
  // Without client_max_window_bits the client may use 15 bits; a route
  // capped at 10 cannot honour that offer, so the next one is chosen.
  const offers = parseDeflateOffers(
    "permessage-deflate, permessage-deflate; client_max_window_bits=12",
  );
  const agreement = negotiateDeflate(offers, { maxWindowBits: 10 });
  assert.equal(agreement?.clientMaxWindowBits, 10);
  assert.equal(agreement?.serverMaxWindowBits, 10);
  assert.equal(
    formatDeflateResponse(agreement!, { isClientWindowOffered: true }),
    "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10",
  );
  assert.equal(
    negotiateDeflate(parseDeflateOffers("permessage-deflate"), {
      maxWindowBits: 10,
    }),
    null,
  );
});

Deno.test("negotiateDeflate answers without the extension when nothing is offered", () => {
  assert.equal(negotiateDeflate(parseDeflateOffers(""), {}), null);
  assert.equal(
    negotiateDeflate(parseDeflateOffers("permessage-deflate; bogus"), {}),
    null,
  );
});

Deno.test("negotiateDeflate declines a server window of 8 bits, which zlib cannot produce", () => {
  assert.equal(
    negotiateDeflate(
      parseDeflateOffers("permessage-deflate; server_max_window_bits=8"),
      {},
    ),
    null,
  );
  const agreement = negotiateDeflate(
    parseDeflateOffers(
      "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9",
    ),
    {},
  );
  assert.equal(agreement?.serverMaxWindowBits, 9);
  // An 8-bit client window is fine: a 9-bit inflater reads it.
  assert.equal(
    negotiateDeflate(
      parseDeflateOffers("permessage-deflate; client_max_window_bits=8"),
      {},
    )?.clientMaxWindowBits,
    8,
  );
});

Deno.test("parseDeflateOffers trims only SP and HTAB, not U+00A0", () => {
  assert.deepEqual(parseDeflateOffers("\u00a0permessage-deflate"), []);
  assert.equal(
    parseDeflateOffers("\tpermessage-deflate ; \tserver_no_context_takeover")
      .length,
    1,
  );
});
