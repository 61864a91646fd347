import { spawn } from "node-pty";
import type { ShellCommand } from "../../agent/terminal/terminal-session.ts";
import {
  bashChoice,
  bashShell,
  connectClient,
  startTestServer,
  type TestServer,
} from "../../agent/terminal/test-support.ts";
import { percentiles } from "./support/percentiles.ts";

// The terminal bench (SPEC §9, §14): how fast shell output reaches a client and how soon a
// keystroke's echo comes back, through the agent's terminal WebSocket (its own sessions and
// server, in process, with a real `ws` client on loopback) beside a bare node-pty in the same
// process running the same shell. Two agent paths: through tmux (`agent_ws_tmux`, the durable
// sessions: a tmux client on the agent's PTY, the shell in tmux's) and the plain-PTY fallback
// (`agent_ws_pty`, no tmux), so the cost tmux adds is its own figure (`tmux_added`) beside the
// agent's whole cost over bare node-pty. Throughput counts the bytes the shell wrote (tmux
// sends a slow reader the screen, not every byte). One JSON line per figure on stdout.

const outputCommand = "head -c 50000000 /dev/zero | base64; M=BENCH-DONE; echo ${M}-MARKER";
const outputMarker = "BENCH-DONE-MARKER";
const outputTimeoutMs = 5 * 60_000;
const keystrokes = 1_000;
const warmupKeystrokes = 50;
const echoTimeoutMs = 10_000;
const size = { cols: 80, rows: 24 };

type Figure = Record<string, string | number>;
type TerminalPath = "agent_ws_tmux" | "agent_ws_pty" | "bare_node_pty";

/** What the output command writes: 50 MB base64-encoded in 76-column lines, CRLF on a PTY. */
const base64Chars = 4 * Math.ceil(50_000_000 / 3);
const shellOutputBytes = base64Chars + 2 * Math.ceil(base64Chars / 76);

function emit(figure: Figure): void {
  process.stdout.write(`${JSON.stringify({ bench: "terminal", ...figure })}\n`);
}

/** One shell on either path: what the measurements type and what they read back. */
interface BenchTerminal {
  write(text: string): void;
  /** Makes `receive` the only receiver of output from now on. */
  listen(receive: (chunk: Buffer) => void): void;
  close(): Promise<void>;
}

const ignoreOutput = () => {};

/** The tests' bash, without a prompt (no noise between echoes) and with a real TERM. */
function benchShell(): ShellCommand {
  const shell = bashShell();
  return { ...shell, env: { ...shell.env, PS1: "", TERM: "xterm-256color" } };
}

/** node-pty spawned as the agent spawns it (raw bytes, same size), read by nothing else. */
function spawnBareTerminal(): BenchTerminal {
  const shell = benchShell();
  const pty = spawn(shell.file, shell.args, {
    name: "xterm-256color",
    ...size,
    cwd: shell.cwd,
    env: shell.env,
    encoding: null,
  });
  let receive: (chunk: Buffer) => void = ignoreOutput;
  // With `encoding: null` node-pty hands out Buffers, whatever its types say.
  pty.onData((data: string | Buffer) =>
    receive(typeof data === "string" ? Buffer.from(data) : data),
  );
  const exited = new Promise<void>((resolve) => pty.onExit(() => resolve()));
  return {
    write: (text) => pty.write(text),
    listen: (next) => (receive = next),
    async close() {
      // node-pty does not always report the exit of a hung-up shell (it can wait on output
      // nobody reads any more), so SIGKILL follows, and the bench never waits for ever.
      pty.kill();
      if (await settlesWithin(exited, 2_000)) return;
      pty.kill("SIGKILL");
      await settlesWithin(exited, 2_000);
    },
  };
}

function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A new session on the agent's server, as the browser opens one: same origin, cookie. */
async function connectAgentTerminal(server: TestServer): Promise<BenchTerminal> {
  const client = await connectClient(server.origin, { ...size, keepOutput: false });
  await client.waitForMessage("session");
  let receive: (chunk: Buffer) => void = ignoreOutput;
  client.ws.on("message", (data: Buffer, isBinary) => {
    if (isBinary) receive(data);
  });
  return {
    write: (text) => client.type(text),
    listen: (next) => (receive = next),
    // The shell outlives its socket; the server's close hangs it up.
    async close() {
      client.ws.close();
      await client.closed;
    },
  };
}

/** Types `command` and collects output until `marker` appears, even split across chunks. */
function runUntilMarker(
  terminal: BenchTerminal,
  command: string,
  marker: string,
  timeoutMs: number,
): Promise<{ bytes: number; ms: number }> {
  const needle = Buffer.from(marker);
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let tail: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      terminal.listen(ignoreOutput);
      reject(new Error(`No "${marker}" within ${timeoutMs} ms after ${bytes} bytes of output.`));
    }, timeoutMs);
    const started = performance.now();
    terminal.listen((chunk) => {
      bytes += chunk.length;
      const seam = Buffer.concat([tail, chunk.subarray(0, needle.length - 1)]);
      if (chunk.includes(needle) || seam.includes(needle)) {
        const ms = performance.now() - started;
        clearTimeout(timer);
        terminal.listen(ignoreOutput);
        resolve({ bytes, ms });
        return;
      }
      const kept = chunk.length >= needle.length ? chunk : Buffer.concat([tail, chunk]);
      tail = kept.subarray(-(needle.length - 1));
    });
    terminal.write(`${command}\r`);
  });
}

let syncCount = 0;

/** Waits until the shell has read and run a command: it is up and past earlier output. */
async function syncShell(terminal: BenchTerminal): Promise<void> {
  syncCount++;
  // The typed line echoes `${M}-…`, never the marker itself.
  const command = `M=BENCH-SYNC; echo \${M}-${syncCount}`;
  await runUntilMarker(terminal, command, `BENCH-SYNC-${syncCount}`, 30_000);
}

/** Resolves once no output has arrived for `quietMs` (the prompt's escapes come late). */
function waitForQuiet(terminal: BenchTerminal, quietMs = 200): Promise<void> {
  return new Promise((resolve) => {
    let timer = setTimeout(done, quietMs);
    function done() {
      terminal.listen(ignoreOutput);
      resolve();
    }
    terminal.listen(() => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    });
  });
}

async function benchOutput(terminal: BenchTerminal, path: TerminalPath): Promise<Figure> {
  await syncShell(terminal);
  const { bytes, ms } = await runUntilMarker(
    terminal,
    outputCommand,
    outputMarker,
    outputTimeoutMs,
  );
  // Decimal megabytes the shell wrote (base64 lines, CRLF) per second until the marker arrived.
  const value = Math.round((shellOutputBytes / 1e6 / (ms / 1000)) * 10) / 10;
  return { metric: "output_throughput_mb_per_s", path, value, received_bytes: bytes };
}

/** Sends one key and resolves with the milliseconds until a chunk carrying it arrives. */
function timeEcho(terminal: BenchTerminal, key: string): Promise<number> {
  const code = key.charCodeAt(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      terminal.listen(ignoreOutput);
      reject(new Error(`No echo of "${key}" within ${echoTimeoutMs} ms.`));
    }, echoTimeoutMs);
    const started = performance.now();
    terminal.listen((chunk) => {
      if (!chunk.includes(code)) return;
      const ms = performance.now() - started;
      clearTimeout(timer);
      terminal.listen(ignoreOutput);
      resolve(ms);
    });
    terminal.write(key);
  });
}

/** Lower-case letters typed at bash's prompt; readline echoes each alone (plus a CR at wraps). */
async function typeKeys(terminal: BenchTerminal, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    samples.push(await timeEcho(terminal, String.fromCharCode(97 + (i % 26))));
  }
  return samples;
}

async function benchEcho(terminal: BenchTerminal, path: TerminalPath): Promise<Figure> {
  await syncShell(terminal);
  await waitForQuiet(terminal);
  await typeKeys(terminal, warmupKeystrokes);
  // Ctrl-U empties the line again; its redraw must be over before the first timed key.
  terminal.write("\x15");
  await waitForQuiet(terminal);
  const samples = await typeKeys(terminal, keystrokes);
  return { metric: "keystroke_echo_ms", path, ...percentiles(samples) };
}

async function measureOn(
  open: () => Promise<BenchTerminal> | BenchTerminal,
  measure: (terminal: BenchTerminal) => Promise<Figure>,
): Promise<Figure> {
  const terminal = await open();
  try {
    const figure = await measure(terminal);
    emit(figure);
    return figure;
  } finally {
    await terminal.close();
  }
}

/** The difference between two paths' figures: what the second adds over the first. */
function emitAdded(metric: string, base: Figure, over: Figure, fields: string[]): void {
  const added = Object.fromEntries(
    fields.map((field) => [
      field,
      Math.round((Number(over[field]) - Number(base[field])) * 1000) / 1000,
    ]),
  );
  emit({ metric, path: `${String(over.path)}_over_${String(base.path)}`, ...added });
}

async function runBench(tmux: TestServer, pty: TestServer): Promise<void> {
  const agent = (server: TestServer) => () => connectAgentTerminal(server);
  // The baseline first for each figure, each on a fresh shell.
  const bareOut = await measureOn(spawnBareTerminal, (t) => benchOutput(t, "bare_node_pty"));
  const ptyOut = await measureOn(agent(pty), (t) => benchOutput(t, "agent_ws_pty"));
  const tmuxOut = await measureOn(agent(tmux), (t) => benchOutput(t, "agent_ws_tmux"));
  const bareEcho = await measureOn(spawnBareTerminal, (t) => benchEcho(t, "bare_node_pty"));
  const ptyEcho = await measureOn(agent(pty), (t) => benchEcho(t, "agent_ws_pty"));
  const tmuxEcho = await measureOn(agent(tmux), (t) => benchEcho(t, "agent_ws_tmux"));
  const echoFields = ["p50", "p99"];
  emitAdded("tmux_added_keystroke_echo_ms", ptyEcho, tmuxEcho, echoFields);
  emitAdded("agent_added_keystroke_echo_ms", bareEcho, tmuxEcho, echoFields);
  emitAdded("tmux_added_output_throughput_mb_per_s", ptyOut, tmuxOut, ["value"]);
  emitAdded("agent_added_output_throughput_mb_per_s", bareOut, tmuxOut, ["value"]);
}

const shells = () => bashChoice(undefined, null, benchShell());
const [tmuxServer, ptyServer] = await Promise.all([
  startTestServer({ shells }),
  startTestServer({ shells, useTmux: false }),
]);
try {
  await runBench(tmuxServer, ptyServer);
} finally {
  await Promise.all([tmuxServer.close(), ptyServer.close()]);
}
