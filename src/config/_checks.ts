/**
 * The small validation helpers `resolveOptions` and route resolution share:
 * number checks that push a problem line, frozen copies of plain data.
 * Private to `config/`.
 *
 * @module
 */

/**
 * Copies plain data (arrays and plain objects, nested) into frozen copies so
 * the resolved configuration shares nothing mutable with the caller.
 * Functions, class instances and primitives are kept as they are.
 */
export function frozenCopy<T>(value: T): T {
  if (Array.isArray(value)) {
    return Object.freeze(value.map((item: unknown) => frozenCopy(item))) as T;
  }
  if (typeof value !== "object" || value === null) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = frozenCopy(item);
  return Object.freeze(copy) as T;
}

/** Whether `value` is a list of strings. */
export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) &&
    value.every((item) => typeof item === "string");
}

/** Shows a bad value as written: NaN and Infinity stay readable. */
function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

/** Pushes a problem unless `value` is a finite number >= 0. */
export function checkNonNegative(
  problems: string[],
  at: string,
  value: unknown,
): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    problems.push(
      `${at}: must be a number >= 0: current value is ${describe(value)}`,
    );
  }
}

/** Pushes a problem unless `value` is a finite number > 0. */
export function checkPositive(
  problems: string[],
  at: string,
  value: unknown,
): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    problems.push(
      `${at}: must be a number > 0: current value is ${describe(value)}`,
    );
  }
}
