/**
 * JSON with comments (JSONC), the configuration file format: standard JSON
 * (RFC 8259) plus `// line` and `/* block *\/` comments and trailing commas
 * in arrays and objects. Errors name the line and column. Pure: text in,
 * value out.
 *
 * @module
 */

/** Nesting deeper than this is refused instead of overflowing the stack. */
const MAX_DEPTH = 512;

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/**
 * Parses JSONC text. Beyond JSON, it accepts `//` and `/* *\/` comments
 * wherever whitespace may appear, a trailing comma after the last array
 * element or object member, and a leading byte order mark. A repeated key
 * in one object is an error (in a configuration file it is a mistake).
 * Objects are plain objects; a `"__proto__"` key is an ordinary own
 * property, as with `JSON.parse`.
 *
 * Throws a `SyntaxError` whose message ends with `at line:column`
 * (1-based; the column counts UTF-16 code units).
 *
 * @example Usage
 * ```ts
 * import { parseJsonc } from "./jsonc.ts";
 * import assert from "node:assert/strict";
 * const text = `{
 *   // where to listen
 *   "listen": "127.0.0.1:8080", /* loopback *\/
 *   "routes": [1, 2,],
 * }`;
 * assert.deepEqual(parseJsonc(text), { listen: "127.0.0.1:8080", routes: [1, 2] });
 * assert.throws(() => parseJsonc('{\n  "a": 1\n  "b": 2\n}'), /at 3:3/);
 * ```
 *
 * @param text The JSONC text.
 * @returns The value.
 */
export function parseJsonc(text: string): unknown {
  const parser = new JsoncParser(text);
  return parser.parseDocument();
}

/** A recursive-descent parser over one text. */
class JsoncParser {
  #text: string;
  #index = 0;

  constructor(text: string) {
    this.#text = text;
  }

  parseDocument(): unknown {
    if (this.#text.charCodeAt(0) === 0xfeff) this.#index = 1;
    this.#skipSpace();
    if (this.#index >= this.#text.length) {
      this.#fail("expected a value but found the end of the text");
    }
    const value = this.#parseValue(0);
    this.#skipSpace();
    if (this.#index < this.#text.length) {
      this.#fail(`expected the end of the text but found ${this.#describe()}`);
    }
    return value;
  }

  #parseValue(depth: number): unknown {
    const char = this.#text[this.#index];
    switch (char) {
      case "{":
        return this.#parseObject(depth + 1);
      case "[":
        return this.#parseArray(depth + 1);
      case '"':
        return this.#parseString();
      case "t":
        return this.#parseLiteral("true", true);
      case "f":
        return this.#parseLiteral("false", false);
      case "n":
        return this.#parseLiteral("null", null);
      default:
        if (
          char === "-" || (char !== undefined && char >= "0" && char <= "9")
        ) {
          return this.#parseNumber();
        }
        return this.#fail(`expected a value but found ${this.#describe()}`);
    }
  }

  #parseObject(depth: number): Record<string, unknown> {
    this.#checkDepth(depth);
    const result: Record<string, unknown> = {};
    const keys = new Set<string>();
    this.#index++; // {
    this.#skipSpace();
    if (this.#text[this.#index] === "}") {
      this.#index++;
      return result;
    }
    while (true) {
      if (this.#text[this.#index] !== '"') {
        this.#fail(`expected a string key but found ${this.#describe()}`);
      }
      const keyStart = this.#index;
      const key = this.#parseString();
      if (keys.has(key)) {
        this.#fail(`found a repeated key ${JSON.stringify(key)}`, keyStart);
      }
      keys.add(key);
      this.#skipSpace();
      if (this.#text[this.#index] !== ":") {
        this.#fail(`expected ":" but found ${this.#describe()}`);
      }
      this.#index++;
      this.#skipSpace();
      const value = this.#parseValue(depth);
      // defineProperty, not assignment: `__proto__` must stay data.
      Object.defineProperty(result, key, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
      this.#skipSpace();
      const separator = this.#text[this.#index];
      if (separator === "}") {
        this.#index++;
        return result;
      }
      if (separator !== ",") {
        this.#fail(`expected "," or "}" but found ${this.#describe()}`);
      }
      this.#index++;
      this.#skipSpace();
      if (this.#text[this.#index] === "}") {
        this.#index++;
        return result;
      }
    }
  }

  #parseArray(depth: number): unknown[] {
    this.#checkDepth(depth);
    const result: unknown[] = [];
    this.#index++; // [
    this.#skipSpace();
    if (this.#text[this.#index] === "]") {
      this.#index++;
      return result;
    }
    while (true) {
      result.push(this.#parseValue(depth));
      this.#skipSpace();
      const separator = this.#text[this.#index];
      if (separator === "]") {
        this.#index++;
        return result;
      }
      if (separator !== ",") {
        this.#fail(`expected "," or "]" but found ${this.#describe()}`);
      }
      this.#index++;
      this.#skipSpace();
      if (this.#text[this.#index] === "]") {
        this.#index++;
        return result;
      }
    }
  }

  #parseString(): string {
    const start = this.#index;
    this.#index++; // opening quote
    let result = "";
    let chunkStart = this.#index;
    while (true) {
      if (this.#index >= this.#text.length) {
        this.#fail("found an unterminated string", start);
      }
      const code = this.#text.charCodeAt(this.#index);
      if (code === 0x22) {
        result += this.#text.slice(chunkStart, this.#index);
        this.#index++;
        return result;
      }
      if (code < 0x20) {
        this.#fail("found a control character in a string; escape it");
      }
      if (code !== 0x5c) {
        this.#index++;
        continue;
      }
      result += this.#text.slice(chunkStart, this.#index);
      const escape = this.#text[this.#index + 1];
      if (escape === "u") {
        const hex = this.#text.slice(this.#index + 2, this.#index + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          this.#fail("found an invalid \\u escape; expected 4 hex digits");
        }
        result += String.fromCharCode(parseInt(hex, 16));
        this.#index += 6;
      } else if (escape !== undefined && escape in ESCAPES) {
        result += ESCAPES[escape];
        this.#index += 2;
      } else {
        this.#fail(
          `found an invalid escape ${JSON.stringify("\\" + (escape ?? ""))}`,
        );
      }
      chunkStart = this.#index;
    }
  }

  #parseNumber(): number {
    const start = this.#index;
    const text = this.#text;
    if (text[this.#index] === "-") this.#index++;
    if (text[this.#index] === "0") {
      this.#index++;
    } else if (!this.#skipDigits()) {
      this.#fail("expected a digit", this.#index);
    }
    if (text[this.#index] === ".") {
      this.#index++;
      if (!this.#skipDigits()) this.#fail('expected a digit after "."');
    }
    if (text[this.#index] === "e" || text[this.#index] === "E") {
      this.#index++;
      if (text[this.#index] === "+" || text[this.#index] === "-") this.#index++;
      if (!this.#skipDigits()) this.#fail("expected a digit in the exponent");
    }
    const next = text[this.#index];
    if (next !== undefined && /[0-9A-Za-z_.$]/.test(next)) {
      this.#fail(`found ${this.#describe()} after a number`);
    }
    return Number(text.slice(start, this.#index));
  }

  /** Skips decimal digits; returns whether there was at least one. */
  #skipDigits(): boolean {
    const start = this.#index;
    while (this.#index < this.#text.length) {
      const char = this.#text[this.#index]!;
      if (char < "0" || char > "9") break;
      this.#index++;
    }
    return this.#index > start;
  }

  #parseLiteral<T>(word: string, value: T): T {
    if (!this.#text.startsWith(word, this.#index)) {
      this.#fail(`expected a value but found ${this.#describe()}`);
    }
    this.#index += word.length;
    return value;
  }

  /** Skips whitespace and comments. */
  #skipSpace(): void {
    const text = this.#text;
    while (this.#index < text.length) {
      const char = text[this.#index];
      if (char === " " || char === "\t" || char === "\n" || char === "\r") {
        this.#index++;
      } else if (char === "/" && text[this.#index + 1] === "/") {
        const end = text.indexOf("\n", this.#index + 2);
        this.#index = end < 0 ? text.length : end + 1;
      } else if (char === "/" && text[this.#index + 1] === "*") {
        const end = text.indexOf("*/", this.#index + 2);
        if (end < 0) this.#fail("found an unterminated /* comment");
        this.#index = end + 2;
      } else {
        return;
      }
    }
  }

  #checkDepth(depth: number): void {
    if (depth > MAX_DEPTH) {
      this.#fail(`found nesting deeper than ${MAX_DEPTH} levels`);
    }
  }

  /** Describes the character at the current position for a message. */
  #describe(): string {
    if (this.#index >= this.#text.length) return "the end of the text";
    const codePoint = this.#text.codePointAt(this.#index)!;
    return JSON.stringify(String.fromCodePoint(codePoint));
  }

  /** Throws a `SyntaxError` at `index` as `line:column`. */
  #fail(problem: string, index: number = this.#index): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < index && i < this.#text.length; i++) {
      const code = this.#text.charCodeAt(i);
      // LF, CR LF and a lone CR each end a line.
      if (
        code === 0x0a ||
        (code === 0x0d && this.#text.charCodeAt(i + 1) !== 0x0a)
      ) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new SyntaxError(
      `Cannot parse JSONC as it ${problem} at ${line}:${index - lineStart + 1}`,
    );
  }
}
