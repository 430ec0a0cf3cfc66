/**
 * The gateway under test of `run.ts`, in its own process so its memory can
 * be read alone: starts wsgate with the routes given as JSON in the first
 * argument, prints `port N`, and stops when stdin closes.
 *
 * @module
 */

import { createGateway, type GatewayOptions } from "../../mod.ts";

const options = JSON.parse(Deno.args[0] ?? "{}") as GatewayOptions;
const gateway = createGateway({ ...options, hostname: "127.0.0.1", port: 0 });
const addr = await gateway.listen();
// deno-lint-ignore no-console -- the parent reads the port from stdout
console.log(`port ${addr.port}`);
for await (const _ of Deno.stdin.readable) {
  // Drained until the parent closes stdin.
}
await gateway.close();
