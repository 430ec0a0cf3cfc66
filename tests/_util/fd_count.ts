/**
 * Open file descriptors of this process (Linux `/proc/self/fd`), for leak
 * checks around an in-process gateway: its sockets count here too.
 *
 * @module
 */

/**
 * How many file descriptors this process has open.
 *
 * @returns The count (including the handle used to list them).
 */
export function openFdCount(): number {
  let count = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
  return count;
}

/**
 * What each open file descriptor points at, for a leak's failure message.
 *
 * @returns The link targets (`socket:[123]`, paths, ...), sorted.
 */
export function openFdTargets(): string[] {
  const targets: string[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      targets.push(Deno.readLinkSync(`/proc/self/fd/${entry.name}`));
    } catch {
      // Closed while listing (the directory handle itself).
    }
  }
  return targets.sort();
}
