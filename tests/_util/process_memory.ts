/**
 * Reads another process's memory from Linux `/proc` for flow-control tests
 * and benchmarks: resident set size (`VmRSS`), its peak (`VmHWM`, which can
 * be reset through `clear_refs`), and proportional set size (`Pss` from
 * `smaps_rollup`). {@linkcode MemorySampler} polls a process to catch the
 * peak between two points of a test.
 *
 * @module
 */

/** One reading of a process's memory, in bytes. */
export interface ProcessMemory {
  /** Resident set size now (`VmRSS`). */
  rssBytes: number;
  /** Peak resident set size since start or the last reset (`VmHWM`). */
  peakRssBytes: number;
  /** Proportional set size now (`Pss`), or undefined without smaps_rollup. */
  pssBytes: number | undefined;
}

/**
 * Reads `VmRSS`, `VmHWM` and `Pss` of process `pid`.
 *
 * @param pid The process id.
 * @returns The reading.
 *
 * @example Usage
 * ```ts
 * import { readProcessMemory } from "./process_memory.ts";
 * import assert from "node:assert/strict";
 * const memory = await readProcessMemory(Deno.pid);
 * assert.ok(memory.rssBytes > 0 && memory.peakRssBytes >= memory.rssBytes);
 * ```
 */
export async function readProcessMemory(pid: number): Promise<ProcessMemory> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  let pssBytes: number | undefined;
  try {
    const rollup = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
    pssBytes = kibField(rollup, "Pss");
  } catch {
    pssBytes = undefined;
  }
  return {
    rssBytes: kibField(status, "VmRSS") ?? 0,
    peakRssBytes: kibField(status, "VmHWM") ?? 0,
    pssBytes,
  };
}

/**
 * Resets the peak RSS (`VmHWM`) of process `pid` to its current RSS by
 * writing `5` to `/proc/PID/clear_refs` (Linux 4.0+, needs permission).
 *
 * @param pid The process id.
 * @returns Whether the reset worked.
 *
 * @example Usage
 * ```ts
 * import { readProcessMemory, resetPeakRss } from "./process_memory.ts";
 * import assert from "node:assert/strict";
 * if (await resetPeakRss(Deno.pid)) {
 *   const memory = await readProcessMemory(Deno.pid);
 *   assert.ok(memory.peakRssBytes >= memory.rssBytes);
 * }
 * ```
 */
export async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Peaks seen by a {@linkcode MemorySampler}, in bytes. */
export interface MemoryPeaks {
  /** The highest RSS: sampled, or `VmHWM` when it was reset at start. */
  peakRssBytes: number;
  /** The highest sampled PSS (undefined without smaps_rollup). */
  peakPssBytes: number | undefined;
  /** How many samples were taken. */
  samples: number;
}

/** Options of {@linkcode MemorySampler}. */
export interface MemorySamplerOptions {
  /**
   * Milliseconds between two samples.
   * @default {20}
   */
  intervalMs?: number;
  /**
   * Most samples taken (the loop stops by itself after that).
   * @default {1000000}
   */
  maxSamples?: number;
}

/**
 * Samples a process's memory until stopped and reports the peaks. At start
 * it resets `VmHWM` when it may, so the kernel's exact peak RSS is used
 * besides the samples.
 *
 * @example Usage
 * ```ts
 * import { MemorySampler } from "./process_memory.ts";
 * import assert from "node:assert/strict";
 * const sampler = await MemorySampler.start(Deno.pid, { intervalMs: 5 });
 * const peaks = await sampler.stop();
 * assert.ok(peaks.samples >= 1 && peaks.peakRssBytes > 0);
 * ```
 */
export class MemorySampler {
  #pid: number;
  #intervalMs: number;
  #maxSamples: number;
  #isPeakReset = false;
  #peakRss = 0;
  #peakPss: number | undefined;
  #samples = 0;
  #isStopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();

  constructor(pid: number, options: MemorySamplerOptions) {
    this.#pid = pid;
    this.#intervalMs = options.intervalMs ?? 20;
    this.#maxSamples = options.maxSamples ?? 1_000_000;
  }

  /**
   * Resets the peak RSS where allowed, takes a first sample and keeps
   * sampling in the background.
   * @param pid The process to watch.
   * @param options Interval and sample cap.
   * @returns The running sampler.
   */
  static async start(
    pid: number,
    options: MemorySamplerOptions = {},
  ): Promise<MemorySampler> {
    const sampler = new MemorySampler(pid, options);
    sampler.#isPeakReset = await resetPeakRss(pid);
    await sampler.#sample();
    sampler.#loop = sampler.#run();
    return sampler;
  }

  /** The peaks so far (the sampler keeps running). */
  get peaks(): MemoryPeaks {
    return {
      peakRssBytes: this.#peakRss,
      peakPssBytes: this.#peakPss,
      samples: this.#samples,
    };
  }

  /**
   * Takes one more sample now and returns the peaks so far.
   * @returns The peaks.
   */
  async sampleNow(): Promise<MemoryPeaks> {
    await this.#sample();
    return this.peaks;
  }

  /**
   * Stops sampling, takes a last sample and returns the peaks.
   * @returns The peaks over the whole run.
   */
  async stop(): Promise<MemoryPeaks> {
    this.#isStopped = true;
    this.#wake?.();
    await this.#loop;
    await this.#sample();
    return this.peaks;
  }

  async #run(): Promise<void> {
    for (let i = 0; i < this.#maxSamples && !this.#isStopped; i++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#intervalMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
      if (this.#isStopped) return;
      await this.#sample();
    }
  }

  async #sample(): Promise<void> {
    let memory: ProcessMemory;
    try {
      memory = await readProcessMemory(this.#pid);
    } catch {
      return; // The process has ended.
    }
    this.#samples++;
    const rss = this.#isPeakReset
      ? Math.max(memory.rssBytes, memory.peakRssBytes)
      : memory.rssBytes;
    this.#peakRss = Math.max(this.#peakRss, rss);
    if (memory.pssBytes !== undefined) {
      this.#peakPss = Math.max(this.#peakPss ?? 0, memory.pssBytes);
    }
  }
}

/** The value of a `Name:   123 kB` line, in bytes. */
function kibField(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
  return match === null ? undefined : Number(match[1]) * 1024;
}
