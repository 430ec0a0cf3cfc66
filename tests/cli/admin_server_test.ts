import { assertRejects, assertStrictEquals } from "../_util/assert.ts";
import { startAdminServer } from "../../src/cli/admin_server.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../src/observability/render_prometheus.ts";

async function get(
  port: number,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    body: await response.text(),
  };
}

Deno.test("startAdminServer serves /metrics from renderMetrics at each request", async () => {
  let scrapes = 0;
  const admin = startAdminServer({ hostname: "127.0.0.1", port: 0 }, {
    renderMetrics: () => `scrapes ${++scrapes}\n`,
    isDraining: () => false,
  });
  try {
    assertStrictEquals(admin.addr.hostname, "127.0.0.1");
    const first = await get(admin.addr.port, "/metrics");
    assertStrictEquals(first.status, 200);
    assertStrictEquals(first.type, PROMETHEUS_CONTENT_TYPE);
    assertStrictEquals(first.body, "scrapes 1\n");
    assertStrictEquals(
      (await get(admin.addr.port, "/metrics?x=1")).body,
      "scrapes 2\n",
    );
  } finally {
    await admin.close();
  }
});

Deno.test("startAdminServer /healthz answers 200 ok, then 503 draining", async () => {
  let isDraining = false;
  const admin = startAdminServer({ hostname: "127.0.0.1", port: 0 }, {
    renderMetrics: () => "",
    isDraining: () => isDraining,
  });
  try {
    const ok = await get(admin.addr.port, "/healthz");
    assertStrictEquals(ok.status, 200);
    assertStrictEquals(ok.body, "ok\n");
    isDraining = true;
    const draining = await get(admin.addr.port, "/healthz");
    assertStrictEquals(draining.status, 503);
    assertStrictEquals(draining.body, "draining\n");
  } finally {
    await admin.close();
  }
});

Deno.test("startAdminServer /healthz answers 503 with the reason while the listener is not accepting", async () => {
  let failure: string | undefined = "accept failing: Too many open files";
  const admin = startAdminServer({ hostname: "127.0.0.1", port: 0 }, {
    renderMetrics: () => "",
    isDraining: () => false,
    acceptFailure: () => failure,
  });
  try {
    const failing = await get(admin.addr.port, "/healthz");
    assertStrictEquals(failing.status, 503);
    assertStrictEquals(
      failing.body,
      "not accepting: accept failing: Too many open files\n",
    );
    failure = undefined;
    const ok = await get(admin.addr.port, "/healthz");
    assertStrictEquals(ok.status, 200);
    assertStrictEquals(ok.body, "ok\n");
  } finally {
    await admin.close();
  }
});

Deno.test("startAdminServer answers 404 for other paths without calling its sources", async () => {
  const admin = startAdminServer({ hostname: "127.0.0.1", port: 0 }, {
    renderMetrics: () => {
      throw new Error("must not render");
    },
    isDraining: () => {
      throw new Error("must not ask");
    },
  });
  try {
    for (const path of ["/", "/metrics/", "/healthz/x", "/_console"]) {
      const response = await get(admin.addr.port, path);
      assertStrictEquals(response.status, 404, path);
      assertStrictEquals(response.body, "Not found\n");
    }
  } finally {
    await admin.close();
  }
});

Deno.test("startAdminServer close stops listening", async () => {
  const admin = startAdminServer({ hostname: "127.0.0.1", port: 0 }, {
    renderMetrics: () => "",
    isDraining: () => false,
  });
  const port = admin.addr.port;
  await admin.close();
  await assertRejects(
    () => Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});
