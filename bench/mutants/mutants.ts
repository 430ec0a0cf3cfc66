/**
 * The seeded list of one-line mutants for `run.ts`: realistic bugs in
 * framing, the RFC 6455 engine, security, the session and the upgrade
 * checks. Each `find` must occur exactly once in `file`; when code moves,
 * the runner reports `not-found` and the entry is updated here.
 *
 * @module
 */

/** One mutant: replace `find` (occurring once) by `replace` in `file`. */
export interface Mutant {
  /** Short unique id, for `--only`. */
  id: string;
  /** The file to change, relative to the repository root. */
  file: string;
  /** The exact text to replace; must occur exactly once in `file`. */
  find: string;
  /** The replacement. */
  replace: string;
  /** Test files or folders to run, relative to the repository root. */
  tests: readonly string[];
  /** The bug this models. */
  note: string;
  /** Set when the mutant is equivalent (cannot be caught): the reason. */
  equivalent?: string;
}

const WS = "src/websocket/ws_frame_codec.ts";
const WS_TESTS = ["tests/websocket/"];
const UNMASK = "src/websocket/unmask.ts";
const LP = "src/framing/length_prefix.ts";
const VARINT = "src/framing/varint.ts";
const LINES = "src/framing/lines.ts";
const FRAMING_TESTS = ["tests/framing/", "tests/property/"];
const WRITER = "src/session/socket_writer.ts";
const WRITER_TESTS = ["tests/session/socket_writer_test.ts"];
const UPGRADE = "src/server/upgrade_policy.ts";
const RELAY = "src/session/relay.ts";
const RELAY_TESTS = ["tests/session/relay_test.ts"];
const UPGRADE_TESTS = ["tests/server/upgrade_policy_test.ts"];

/** The mutants, in the order they run. */
export const MUTANTS: readonly Mutant[] = [
  // --- websocket/ws_frame_codec.ts
  {
    id: "ws-min16-off-by-one",
    file: WS,
    find: "if (length < 126) {",
    replace: "if (length < 125) {",
    tests: WS_TESTS,
    note: "125 bytes in a 16-bit length field accepted (must be 1002)",
  },
  {
    id: "ws-min64-off-by-one",
    file: WS,
    find: "if (length < 0x10000) {",
    replace: "if (length < 0xffff) {",
    tests: WS_TESTS,
    note: "65,535 bytes in a 64-bit length field accepted (must be 1002)",
  },
  {
    id: "ws-len64-low-word-only",
    file: WS,
    find: "length = high * 0x100000000 + low;",
    replace: "length = low;",
    tests: WS_TESTS,
    note: "a 64-bit length keeps only its low word",
  },
  {
    id: "ws-msb-check-dropped",
    file: WS,
    find: "if (high >= 0x80000000) {",
    replace: "if (high > 0xffffffff) {",
    tests: WS_TESTS,
    note: "a 64-bit length with the most significant bit set is not 1002",
  },
  {
    id: "ws-max-message-off-by-one",
    file: WS,
    find: "if (length > this.#maxMessageBytes) {",
    replace: "if (length >= this.#maxMessageBytes) {",
    tests: WS_TESTS,
    note: "a message of exactly maxMessageBytes refused",
  },
  {
    id: "ws-fragment-sum-unchecked",
    file: WS,
    find: "if (this.#fragmentBytes + length > this.#maxMessageBytes) {",
    replace: "if (length > this.#maxMessageBytes) {",
    tests: WS_TESTS,
    note: "fragments are limited one by one, not by their sum",
  },
  {
    id: "ws-reserved-control-opcode",
    file: WS,
    find: "if (opcode > Opcode.PONG) {",
    replace: "if (opcode > 0xf) {",
    tests: WS_TESTS,
    note: "reserved control opcodes 0xB-0xF accepted",
  },
  {
    id: "ws-header-length-boundary",
    file: WS,
    find: "return payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;",
    replace:
      "return payloadLength <= 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;",
    tests: WS_TESTS,
    note: "frameHeaderLength says 2 for a 126-byte payload",
  },
  // --- websocket/unmask.ts
  {
    id: "unmask-rotation-wrong-way",
    file: UNMASK,
    find: ": (key >>> shift) | (key << (32 - shift));",
    replace: ": (key << shift) | (key >>> (32 - shift));",
    tests: ["tests/websocket/unmask_test.ts"],
    note: "the word key is rotated the wrong way for a non-zero phase",
  },
  {
    id: "unmask-key-byte-order",
    file: UNMASK,
    find:
      "return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) |",
    replace:
      "return bytes[at + 1]! | (bytes[at]! << 8) | (bytes[at + 2]! << 16) |",
    tests: ["tests/websocket/unmask_test.ts"],
    note: "maskKeyAt swaps key bytes 0 and 1",
  },
  {
    id: "unmask-tail-skipped",
    file: UNMASK,
    find: "i += wordCount << 2;",
    replace: "i += (wordCount << 2) + 1;",
    tests: ["tests/websocket/unmask_test.ts"],
    note: "the first byte after the word-wise middle is left masked",
  },
  // --- websocket/close_frame.ts
  {
    id: "close-code-range",
    file: "src/websocket/close_frame.ts",
    find: "(code >= 3000 && code <= 4999)",
    replace: "(code >= 3000 && code <= 5999)",
    tests: WS_TESTS,
    note: "close code 5000 accepted as valid",
  },
  {
    id: "close-reason-cut-utf8",
    file: "src/websocket/close_frame.ts",
    find: "while (cut > 0 && (reasonBytes[cut]! & 0xc0) === 0x80) cut--;",
    replace: "",
    tests: WS_TESTS,
    note: "a long close reason is cut inside a UTF-8 sequence",
  },
  // --- websocket/handshake.ts
  {
    id: "handshake-version-13",
    file: "src/websocket/handshake.ts",
    find: 'if (headers.get("sec-websocket-version") !== "13") {',
    replace: 'if (headers.get("sec-websocket-version") === "8") {',
    tests: WS_TESTS,
    note: "Sec-WebSocket-Version other than 13 accepted",
  },
  {
    id: "handshake-key-length",
    file: "src/websocket/handshake.ts",
    find: 'return key.length === 24 && key.endsWith("==") &&',
    replace: 'return key.length >= 20 && key.endsWith("==") &&',
    tests: WS_TESTS,
    note: "a Sec-WebSocket-Key of the wrong length accepted",
    equivalent:
      'the regex on the same line requires exactly 22 characters then "==", so the length check is redundant',
  },
  // --- framing/
  {
    id: "lp-max-off-by-one",
    file: LP,
    find: "if (length < 0 || rest < 0 || rest > restLimit) {",
    replace: "if (length < 0 || rest < 0 || rest >= restLimit) {",
    tests: FRAMING_TESTS,
    note: "length-prefix: a message of exactly the limit refused (fast path)",
  },
  {
    id: "lp-u64-high-limit",
    file: LP,
    find: "return high > 0x1fffff ? -1 : high * TWO_POW_32 + low;",
    replace: "return high * TWO_POW_32 + low;",
    tests: FRAMING_TESTS,
    note: "length-prefix: a u64 length above 2^53 is not refused",
  },
  {
    id: "lp-u16-little-endian",
    file: LP,
    find: ": (bytes[at]! << 8) | bytes[at + 1]!;",
    replace: ": bytes[at]! | (bytes[at + 1]! << 8);",
    tests: FRAMING_TESTS,
    note: "length-prefix: u16 big-endian read as little-endian",
  },
  {
    id: "lp-truncated-at-eof",
    file: LP,
    find: "if (pending > 0) throw new TruncatedFrameError(pending);",
    replace: "if (pending > 1) throw new TruncatedFrameError(pending);",
    tests: FRAMING_TESTS,
    note: "length-prefix: a frame one byte short at EOF not reported",
  },
  {
    id: "varint-max-off-by-one",
    file: VARINT,
    find: "if (value > this.#max) throw tooLarge(value, this.#max);",
    replace: "if (value >= this.#max) throw tooLarge(value, this.#max);",
    tests: FRAMING_TESTS,
    note: "varint: a length of exactly the limit refused (split head)",
  },
  {
    id: "varint-non-minimal",
    file: VARINT,
    find: "if (byte === 0 && at > start) {",
    replace: "if (byte === 0 && at > start + 1) {",
    tests: FRAMING_TESTS,
    note: "varint: a non-minimal two-byte encoding accepted",
  },
  {
    id: "varint-encode-boundary",
    file: VARINT,
    find: "  while (value >= 128) {\n    target",
    replace: "  while (value > 128) {\n    target",
    tests: FRAMING_TESTS,
    note: "varint: 128 encoded as one byte",
  },
  {
    id: "lines-max-off-by-one",
    file: LINES,
    find: "if (lineEnd - start > max) throw tooLong(lineEnd - start, max);",
    replace: "if (lineEnd - start >= max) throw tooLong(lineEnd - start, max);",
    tests: FRAMING_TESTS,
    note: "lines: a line of exactly the limit refused",
  },
  // --- security/
  {
    id: "replay-expiry-inclusive",
    file: "src/security/replay_cache.ts",
    find: 'if (held !== undefined && held > nowMs) return "replayed";',
    replace: 'if (held !== undefined) return "replayed";',
    tests: ["tests/security/"],
    note: "replay cache: an expired jti is still refused",
  },
  {
    id: "ticket-exp-boundary",
    file: "src/security/ticket.ts",
    find: "if (nowSec >= exp + clockSkewSec) {",
    replace: "if (nowSec > exp + clockSkewSec) {",
    tests: ["tests/security/"],
    note: "ticket: accepted at exactly exp",
  },
  {
    id: "ticket-nbf-skew",
    file: "src/security/ticket.ts",
    find: "if (nbf !== undefined && nowSec + clockSkewSec < nbf) {",
    replace: "if (nbf !== undefined && nowSec < nbf) {",
    tests: ["tests/security/"],
    note: "ticket: clock skew not applied to nbf",
  },
  {
    id: "ticket-route-unchecked",
    file: "src/security/ticket.ts",
    find: "if (claims.route !== route) {",
    replace: "if (claims.route === undefined) {",
    tests: ["tests/security/"],
    note: "ticket: a ticket for another route accepted",
  },
  {
    id: "limits-per-ip-off-by-one",
    file: "src/security/local_admission.ts",
    find:
      'if (count >= perIpLimit) return { kind: "refused", reason: "per_ip" };',
    replace:
      'if (count > perIpLimit) return { kind: "refused", reason: "per_ip" };',
    tests: ["tests/security/"],
    note: "admission: one session more than maxSessionsPerIp",
  },
  {
    id: "limits-total-off-by-one",
    file: "src/security/local_admission.ts",
    find: "if (this.#live.size >= sessionLimit) {",
    replace: "if (this.#live.size > sessionLimit) {",
    tests: ["tests/security/", "tests/server/session_table_test.ts"],
    note: "admission: one session more than maxSessions",
  },
  {
    id: "backend-port-range-upper",
    file: "src/security/backend_policy.ts",
    find:
      "return portRanges.some(([low, high]) => port >= low && port <= high);",
    replace:
      "return portRanges.some(([low, high]) => port >= low && port < high);",
    tests: ["tests/security/"],
    note: "backend policy: the top port of an allowed range refused",
  },
  {
    id: "backend-cidr-partial-byte",
    file: "src/security/backend_policy.ts",
    find: "if (rest === 0) return true;",
    replace: "return true;",
    tests: ["tests/security/"],
    note: "backend policy: a CIDR prefix ignores its bits in a partial byte",
  },
  {
    id: "origin-wildcard-apex",
    file: "src/security/origin_policy.ts",
    find: "origin.hostname.length > pattern.suffix.length &&",
    replace: "origin.hostname.length >= pattern.suffix.length - 1 &&",
    tests: ["tests/security/"],
    note: "origin: *.example.com matches example.com itself",
    equivalent:
      'the suffix starts with ".", so endsWith already rejects the apex and no valid hostname equals the suffix',
  },
  {
    id: "origin-wildcard-port-ignored",
    file: "src/security/origin_policy.ts",
    find: "pattern.scheme === origin.scheme && pattern.port === origin.port &&",
    replace: "pattern.scheme === origin.scheme &&",
    tests: ["tests/security/"],
    note: "origin: *.example.com matches any port",
  },
  {
    id: "origin-wildcard-scheme-ignored",
    file: "src/security/origin_policy.ts",
    find: "pattern.scheme === origin.scheme && pattern.port === origin.port &&",
    replace: "pattern.port === origin.port &&",
    tests: ["tests/security/"],
    note: "origin: https://*.example.com matches http:// origins",
  },
  {
    id: "replay-expiry-boundary",
    file: "src/security/replay_cache.ts",
    find: 'if (held !== undefined && held > nowMs) return "replayed";',
    replace: 'if (held !== undefined && held >= nowMs) return "replayed";',
    tests: ["tests/security/"],
    note: "replay cache: an id is still refused at exactly its expiry",
  },
  // --- session/socket_writer.ts
  {
    id: "writer-high-water-inclusive",
    file: WRITER,
    find: "return this.pendingBytes > this.#highWater;",
    replace: "return this.pendingBytes >= this.#highWater;",
    tests: WRITER_TESTS,
    note: "SocketWriter: exactly the high-water mark counts as above it",
  },
  {
    id: "writer-low-water-exclusive",
    file: WRITER,
    find: "if (this.pendingBytes <= this.#lowWater || this.#hasFailed) {",
    replace: "if (this.pendingBytes < this.#lowWater || this.#hasFailed) {",
    tests: WRITER_TESTS,
    note: "SocketWriter: belowLowWater waits at exactly the low-water mark",
  },
  // --- session/relay.ts (being split: liveness and the close path may move;
  // a not-found status here means the find string needs updating)
  {
    id: "relay-idle-browser-no-reset",
    file: RELAY,
    find: "    times.lastDataMs = times.lastFromBrowserMs;\n  }",
    replace: "  }",
    tests: RELAY_TESTS,
    note: "a browser message does not reset the idle timeout",
  },
  {
    id: "relay-idle-backend-no-reset",
    file: RELAY,
    find: 'this.#options.onTraffic?.("to_browser", message);\n' +
      "    this.#times.lastDataMs = this.#times.lastFromBackendMs;\n  }\n\n" +
      "  /**\n   * Each backend message of a compressing session",
    replace: 'this.#options.onTraffic?.("to_browser", message);\n  }\n\n' +
      "  /**\n   * Each backend message of a compressing session",
    tests: RELAY_TESTS,
    note: "a backend message does not reset the idle timeout",
  },
  {
    id: "relay-idle-boundary",
    file: "src/session/liveness.ts",
    find: "now - state.lastDataMs >= timers.idleTimeoutMs",
    replace: "now - state.lastDataMs > timers.idleTimeoutMs",
    tests: ["tests/session/liveness_test.ts", ...RELAY_TESTS],
    note: "the idle timeout fires one tick late",
  },
  {
    id: "relay-backend-not-drained",
    file: RELAY,
    find: "        await withTimeout(toBackend.drained(), remaining());\n",
    replace: "",
    tests: RELAY_TESTS,
    note: "the backend is closed without draining what is queued for it",
  },
  // --- session/message_compression.ts, session/output_writer.ts
  {
    id: "compression-control-jumps-queue",
    file: "src/session/message_compression.ts",
    find: "this.#inbound = this.#inbound.then(() =>\n" +
      "      this.#handlers.control(opcode, copy)\n    );",
    replace: "this.#handlers.control(opcode, copy);",
    tests: ["tests/session/message_compression_test.ts"],
    note: "a browser ping overtakes the compressed messages still inflating",
  },
  {
    id: "output-no-release",
    file: "src/session/output_writer.ts",
    find: "...(source === undefined ? {} : { releaseTo: source }),",
    replace: "",
    tests: ["tests/session/output_writer_test.ts"],
    note: "read buffers lent to a writer never come back to the pump's pool",
  },
  // --- server/upgrade_policy.ts
  {
    id: "upgrade-ticket-claim-field",
    file: UPGRADE,
    find: "claims.target !== target.claimText",
    replace: "claims.target !== target.text",
    tests: UPGRADE_TESTS,
    note: "a ticket's target claim compared with the display text",
  },
  {
    id: "upgrade-port-65535",
    file: UPGRADE,
    find: "port < 1 || port > 65535) {",
    replace: "port < 1 || port >= 65535) {",
    tests: UPGRADE_TESTS,
    note: "port 65535 refused on a dynamic route",
  },
  {
    id: "upgrade-port-0",
    file: UPGRADE,
    find: "port < 1 || port > 65535) {",
    replace: "port < 0 || port > 65535) {",
    tests: UPGRADE_TESTS,
    note: "port 0 accepted on a dynamic route",
  },
  {
    id: "upgrade-origin-ignored",
    file: UPGRADE,
    find: "if (!origin.allowed) {",
    replace: "if (false) {",
    tests: UPGRADE_TESTS,
    note: "a refused origin is upgraded",
  },
  {
    id: "upgrade-ticket-missing",
    file: UPGRADE,
    find: 'if (ticket === undefined || ticket === "") {',
    replace: "if (ticket === undefined) {",
    tests: UPGRADE_TESTS,
    note: "an empty ticket is verified instead of refused as missing",
  },
  {
    id: "subprotocol-binary-not-preferred",
    file: "src/websocket/subprotocol.ts",
    find: "if (offered.includes(BINARY_SUBPROTOCOL)) {",
    replace: "if (false) {",
    tests: ["tests/websocket/subprotocol_test.ts", ...UPGRADE_TESTS],
    note: "a transparent route answers the first offer instead of binary",
  },
  {
    id: "upgrade-ticket-not-checked-as-used",
    file: UPGRADE,
    find: "if (this.#replayCache.isHeld(claims.jti!, Date.now())) {",
    replace: "if (false) {",
    tests: UPGRADE_TESTS,
    note: "a used single-use ticket passes decide (spent only later)",
  },
  {
    id: "gateway-slot-not-released",
    file: "src/server/session_table.ts",
    find: "void this.#admission.release(row.admission);",
    replace: "",
    tests: [
      "tests/server/gateway_test.ts",
      "tests/server/session_table_test.ts",
    ],
    note: "an ended session keeps its slot (the gateway fills up for good)",
  },
];
