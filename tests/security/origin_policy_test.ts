import assert from "node:assert/strict";
import {
  compileOriginPolicy,
  sameOriginExposureWarning,
} from "../../src/security/origin_policy.ts";

Deno.test("compileOriginPolicy with a list allows exact origins after normalisation", async (t) => {
  const check = compileOriginPolicy([
    "https://app.example.com",
    "http://LOCALHOST:8080",
    "https://Admin.Example.com:443",
    "http://[::1]:3000",
  ]);
  const cases: [string, boolean][] = [
    ["https://app.example.com", true],
    ["HTTPS://APP.EXAMPLE.COM", true],
    ["https://app.example.com:443", true],
    ["http://localhost:8080", true],
    ["https://admin.example.com", true],
    ["http://[0:0::1]:3000", true],
    ["http://app.example.com", false],
    ["https://app.example.com:8443", false],
    ["https://app.example.com.evil.com", false],
    ["https://evil.com", false],
    ["https://sub.app.example.com", false],
    ["http://localhost", false],
    ["http://localhost:80", false],
  ];
  for (const [origin, expected] of cases) {
    await t.step(`${origin} -> ${expected}`, () => {
      const result = check(origin, "gateway.example.com");
      assert.equal(result.allowed, expected);
      assert.equal(result.reason, expected ? "listed" : "not-listed");
    });
  }
});

Deno.test("compileOriginPolicy wildcard matches one or more labels but never the apex", async (t) => {
  const check = compileOriginPolicy([
    "https://*.example.com",
    "http://*.dev.test:8080",
  ]);
  const cases: [string, boolean][] = [
    ["https://a.example.com", true],
    ["https://a.b.example.com", true],
    ["https://A.EXAMPLE.COM:443", true],
    ["https://example.com", false],
    ["https://evilexample.com", false],
    ["https://a.example.com.evil.com", false],
    ["http://a.example.com", false],
    ["https://a.example.com:8443", false],
    ["http://x.dev.test:8080", true],
    ["http://x.dev.test", false],
    ["http://dev.test:8080", false],
  ];
  for (const [origin, expected] of cases) {
    await t.step(`${origin} -> ${expected}`, () => {
      assert.equal(check(origin, null).allowed, expected);
    });
  }
});

Deno.test("compileOriginPolicy without a list allows same-origin only", async (t) => {
  for (const allowed of [undefined, []]) {
    const check = compileOriginPolicy(allowed);
    const cases: [string, string | null, boolean][] = [
      ["https://gw.example.com", "gw.example.com", true],
      ["http://gw.example.com", "gw.example.com", true],
      ["https://GW.example.com", "gw.EXAMPLE.com", true],
      ["https://gw.example.com", "gw.example.com:443", true],
      ["http://gw.example.com", "gw.example.com:80", true],
      ["http://gw.example.com:8080", "gw.example.com:8080", true],
      ["http://gw.example.com:8080", "gw.example.com:08080", true],
      ["http://127.0.0.1:8080", "127.0.0.1:8080", true],
      ["http://[::1]:8080", "[::1]:8080", true],
      ["http://[::1]", "[0::1]", true],
      ["https://gw.example.com", "gw.example.com:80", false],
      ["https://gw.example.com:8443", "gw.example.com", false],
      ["http://gw.example.com:8080", "gw.example.com:8081", false],
      ["http://gw.example.com", "gw.example.com:8080", false],
      ["https://evil.example.com", "gw.example.com", false],
      ["https://gw.example.com.evil.com", "gw.example.com", false],
      ["https://gw.example.com", null, false],
      ["https://gw.example.com", "gw.example.com:99999", false],
      ["https://gw.example.com", "gw.example.com:80:80", false],
      ["https://gw.example.com", "gw.example.com/x", false],
      ["http://[::1]:8080", "[::1:8080", false],
      ["chrome-extension://abc", "abc", false],
      ["constructor://gw.example.com", "gw.example.com", false],
    ];
    for (const [origin, host, expected] of cases) {
      await t.step(
        `${JSON.stringify(allowed)} ${origin} vs Host ${host} -> ${expected}`,
        () => {
          const result = check(origin, host);
          assert.equal(result.allowed, expected);
          assert.equal(
            result.reason,
            expected ? "same-origin" : "cross-origin",
          );
        },
      );
    }
  }
});

Deno.test("compileOriginPolicy allows a missing Origin and says so", () => {
  const result = compileOriginPolicy(["https://app.example.com"])(null, "gw");
  assert.deepEqual(result, {
    allowed: true,
    reason: "no-origin",
    origin: null,
  });
  assert.equal(compileOriginPolicy(undefined)(null, null).allowed, true);
});

Deno.test("compileOriginPolicy refuses a missing Origin when allowMissingOrigin is false", () => {
  const check = compileOriginPolicy(undefined, { allowMissingOrigin: false });
  assert.deepEqual(check(null, "gw"), {
    allowed: false,
    reason: "no-origin",
    origin: null,
  });
  assert.equal(
    compileOriginPolicy("*", { allowMissingOrigin: false })(null, "gw").allowed,
    true,
  );
});

Deno.test("compileOriginPolicy refuses opaque and malformed origins", async (t) => {
  const check = compileOriginPolicy(["https://app.example.com"]);
  assert.deepEqual(check("null", "gw"), {
    allowed: false,
    reason: "opaque",
    origin: null,
  });
  const malformed = [
    "",
    "app.example.com",
    "https://",
    "https://app.example.com/",
    "https://app.example.com/path",
    "https://app.example.com?x",
    "https://app.example.com#x",
    "https://user@app.example.com",
    "https://app.example.com https://other.example",
    "https://app..example.com",
    "https://app.example.com:99999",
    "1https://app.example.com",
  ];
  for (const origin of malformed) {
    await t.step(JSON.stringify(origin), () => {
      assert.deepEqual(check(origin, "gw"), {
        allowed: false,
        reason: "malformed",
        origin: null,
      });
    });
  }
  assert.equal(compileOriginPolicy(undefined)("null", "null").reason, "opaque");
});

Deno.test('compileOriginPolicy "*" allows every origin', () => {
  for (const allowed of ["*" as const, ["https://a.example", "*"]]) {
    const check = compileOriginPolicy(allowed);
    assert.equal(check("https://evil.example", "gw").reason, "any");
    assert.equal(check("null", "gw").allowed, true);
    assert.equal(check("garbage", "gw").allowed, true);
  }
});

Deno.test("compileOriginPolicy reports the normalised origin", () => {
  const check = compileOriginPolicy(["https://app.example.com"]);
  assert.equal(
    check("HTTPS://App.Example.com:443", null).origin,
    "https://app.example.com",
  );
  assert.equal(
    check("https://evil.example:8443", null).origin,
    "https://evil.example:8443",
  );
});

Deno.test("compileOriginPolicy throws TypeError on a bad pattern", async (t) => {
  const cases = [
    "app.example.com",
    "https://app.example.com/",
    "https://app.example.com/path",
    "https://*",
    "https://*.",
    "https://a.*.example.com",
    "https://*example.com",
    "https://*.*.example.com",
    "*.example.com",
    "https://*.1.2.3",
    "https://*.[::1]",
    "chrome-extension://*.abc",
    "https://user@app.example.com",
    "https://app.example.com:99999",
    "",
  ];
  for (const pattern of cases) {
    await t.step(JSON.stringify(pattern), () => {
      assert.throws(() => compileOriginPolicy([pattern]), TypeError);
    });
  }
  await t.step("not a list", () => {
    assert.throws(
      () => compileOriginPolicy("https://a.example" as unknown as "*"),
      TypeError,
    );
  });
});

Deno.test("compileOriginPolicy on a loopback listener without a list admits only loopback Host names on the listen port", async (t) => {
  const check = compileOriginPolicy(undefined, { listenHostname: "127.0.0.1" });
  const cases: [string, string, number | undefined, string][] = [
    // DNS rebinding: the attacker's name now resolves to 127.0.0.1, and the
    // page's Origin matches the Host it sends.
    [
      "http://rebind.attacker.example:8080",
      "rebind.attacker.example:8080",
      8080,
      "non-loopback-host",
    ],
    [
      "http://rebind.attacker.example",
      "rebind.attacker.example",
      80,
      "non-loopback-host",
    ],
    ["http://localhost:8080", "localhost:8080", 8080, "same-origin"],
    ["http://LOCALHOST:8080", "LocalHost:8080", 8080, "same-origin"],
    ["http://127.0.0.1:8080", "127.0.0.1:8080", 8080, "same-origin"],
    ["http://127.1.2.3:8080", "127.1.2.3:8080", 8080, "same-origin"],
    ["http://[::1]:8080", "[::1]:8080", 8080, "same-origin"],
    ["http://localhost", "localhost", 80, "same-origin"],
    ["https://localhost", "localhost", 443, "same-origin"],
    // A loopback name on another port (a forwarded port) is not the listener.
    ["http://localhost:9000", "localhost:9000", 8080, "non-loopback-host"],
    ["http://localhost", "localhost", 8080, "non-loopback-host"],
    // No port known: only the name is checked.
    ["http://localhost:9000", "localhost:9000", undefined, "same-origin"],
    [
      "http://rebind.attacker.example",
      "rebind.attacker.example",
      undefined,
      "non-loopback-host",
    ],
    // A loopback Host does not lift the same-origin rule.
    ["http://localhost:3000", "localhost:8080", 8080, "cross-origin"],
    [
      "http://127.0.0.1.nip.io:8080",
      "127.0.0.1.nip.io:8080",
      8080,
      "non-loopback-host",
    ],
    [
      "http://localhost.attacker.example:8080",
      "localhost.attacker.example:8080",
      8080,
      "non-loopback-host",
    ],
  ];
  for (const [origin, host, port, reason] of cases) {
    await t.step(
      `${origin} with Host ${host} on port ${port} -> ${reason}`,
      () => {
        const result = check(origin, host, port);
        assert.equal(result.reason, reason);
        assert.equal(result.allowed, reason === "same-origin");
      },
    );
  }
  await t.step("a request without Origin is not a browser's and passes", () => {
    assert.equal(
      check(null, "rebind.attacker.example:8080", 8080).allowed,
      true,
    );
  });
  await t.step("every loopback listen address turns the check on", () => {
    for (const listenHostname of ["localhost", "::1", "[::1]", "127.0.0.2"]) {
      const loopback = compileOriginPolicy(undefined, { listenHostname });
      assert.equal(
        loopback("http://rebind.example:80", "rebind.example:80", 80).reason,
        "non-loopback-host",
        listenHostname,
      );
    }
  });
  await t.step(
    "a non-loopback listener keeps plain same-origin (and warns at start)",
    () => {
      const optionsList = [
        { listenHostname: "0.0.0.0" },
        { listenHostname: "192.0.2.10" },
        {},
      ];
      for (const options of optionsList) {
        const open = compileOriginPolicy(undefined, options);
        assert.equal(
          open("http://rebind.example:80", "rebind.example:80", 80).reason,
          "same-origin",
          JSON.stringify(options),
        );
      }
    },
  );
  await t.step("listed origins replace the Host check", () => {
    const listed = compileOriginPolicy(["http://app.example:8080"], {
      listenHostname: "127.0.0.1",
    });
    assert.equal(
      listed("http://app.example:8080", "app.example:8080", 8080).reason,
      "listed",
    );
    const any = compileOriginPolicy("*", { listenHostname: "127.0.0.1" });
    assert.equal(any("http://app.example", "app.example", 8080).allowed, true);
  });
});

Deno.test("sameOriginExposureWarning warns only for same-origin checking on an address others can reach", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) {
    assert.equal(sameOriginExposureWarning(undefined, host), undefined, host);
    assert.equal(sameOriginExposureWarning([], host), undefined, host);
  }
  for (const host of ["0.0.0.0", "::", "192.0.2.10", "gw.example.com"]) {
    const warning = sameOriginExposureWarning(undefined, host);
    assert.match(warning ?? "", /DNS-rebinding/, host);
    assert.match(warning ?? "", /--allow-origin/, host);
    assert.match(sameOriginExposureWarning([], host) ?? "", /Host header/);
  }
  assert.equal(sameOriginExposureWarning("*", "0.0.0.0"), undefined);
  assert.equal(
    sameOriginExposureWarning(["https://app.example"], "0.0.0.0"),
    undefined,
  );
});

Deno.test("compileOriginPolicy answers the same for repeated and for many distinct origins and hosts", () => {
  const check = compileOriginPolicy(["https://app.example.com"]);
  const sameOrigin = compileOriginPolicy(undefined);
  for (let i = 0; i < 1000; i++) {
    assert.equal(check("https://app.example.com", null).allowed, true);
    assert.equal(check(`https://x${i}.example.com`, null).allowed, false);
    assert.equal(
      sameOrigin(`http://h${i}.example:8080`, `h${i}.example:8080`).allowed,
      true,
    );
    assert.equal(
      sameOrigin(`http://h${i}.example:8080`, `h${i + 1}.example:8080`)
        .allowed,
      false,
    );
  }
});
