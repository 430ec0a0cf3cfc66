/**
 * Memory per idle compressing session: opens 500 deflater + inflater pairs,
 * sends one message through each, then reports the RSS growth per session.
 * Each configuration runs in its own child process so they do not share a
 * heap. Run: `deno run -A bench/deflate_memory.ts`.
 */
import {
  MessageDeflater,
  MessageInflater,
} from "../src/websocket/message_deflate.ts";

const SESSIONS = 500;
const CONFIGS: Record<
  string,
  { noContextTakeover: boolean; windowBits: number; memLevel: number }
> = {
  "context kept, 15 bits, memLevel 8": {
    noContextTakeover: false,
    windowBits: 15,
    memLevel: 8,
  },
  "context kept, 10 bits, memLevel 4": {
    noContextTakeover: false,
    windowBits: 10,
    memLevel: 4,
  },
  "no context takeover": {
    noContextTakeover: true,
    windowBits: 15,
    memLevel: 8,
  },
};

async function measure(name: string): Promise<void> {
  const config = CONFIGS[name]!;
  const message = new TextEncoder().encode("SET key value ".repeat(20));
  const held: [MessageDeflater, MessageInflater][] = [];
  // One warm-up pair so module and zlib setup are not counted per session.
  const warm = new MessageDeflater({ ...config, minSize: 0 });
  await warm.compress(message);
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < SESSIONS; i++) {
    const deflater = new MessageDeflater({ ...config, minSize: 0 });
    const inflater = new MessageInflater(config);
    await inflater.decompress((await deflater.compress(message))!);
    held.push([deflater, inflater]);
  }
  const perSession = (Deno.memoryUsage().rss - before) / SESSIONS;
  // deno-lint-ignore no-console -- the child reports to the parent's stdout
  console.log(
    `${name}: ${Math.round(perSession / 1024)} KiB RSS per idle session`,
  );
  for (const [d, i] of held) {
    d.close();
    i.close();
  }
  warm.close();
}

if (Deno.args[0] !== undefined) {
  await measure(Deno.args[0]);
} else {
  for (const name of Object.keys(CONFIGS)) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, name],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`Cannot measure "${name}"`);
  }
}
