import { randomUUID } from "node:crypto";
import { readSync } from "node:fs";
import { spawn, type IPty } from "node-pty";
import { createRingBuffer } from "./ring-buffer.ts";

// One shell on a PTY: its scrollback, the one consumer (socket) its output goes to, flow
// control, and an exit that is reported only after the last byte of output.

export interface ShellCommand {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface SessionExit {
  code: number;
  /** The signal number that ended the shell, if one did. */
  signal: number | null;
}

/** Where a session's output goes; at most one per session. */
export interface SessionConsumer {
  /** Output bytes, in order. */
  data(chunk: Buffer): void;
  /** Called once, after the last `data`. */
  exit(exit: SessionExit): void;
  /** A message for the person at the terminal, e.g. the idle warning. */
  notice(message: string): void;
  /** Another consumer attached; this one no longer receives anything. */
  replace(): void;
}

export interface TerminalSession {
  readonly id: string;
  readonly pid: number;
  readonly cols: number;
  readonly rows: number;
  /** Null while the shell runs (or while its last output is still being delivered). */
  readonly exit: SessionExit | null;
  readonly paused: boolean;
  /** Makes `consumer` the only receiver of output; returns its detach function. */
  attach(consumer: SessionConsumer): () => void;
  readScrollback(): Buffer;
  /** Passes a notice to the attached consumer, if any. */
  notify(message: string): void;
  write(input: Uint8Array | string): void;
  resize(cols: number, rows: number): void;
  /** Stops reading the PTY, which blocks the shell's writes once the kernel buffer fills. */
  pause(): void;
  resume(): void;
  kill(signal?: string): void;
}

export interface SessionSettings {
  shell: ShellCommand;
  /** A line for the first consumer, e.g. that this shell runs on the server, not in the devcontainer. */
  notice?: string | null;
  cols: number;
  rows: number;
  scrollbackBytes: number;
  /** Quiet time after the PTY reports exit before the exit is passed on. */
  exitQuietMs: number;
  /** How often a paused session checks that its shell still lives. */
  livenessPollMs: number;
  onInput: () => void;
  /** Each chunk of output (e.g. for the session's last-output time). */
  onOutput?: () => void;
  onExit: (session: TerminalSession) => void;
}

export function spawnTerminalSession(settings: SessionSettings): TerminalSession {
  const pty = spawnPty(settings);
  const scrollback = createRingBuffer(settings.scrollbackBytes);
  const flow = createFlowControl(pty, settings.livenessPollMs);
  const slot = createConsumerSlot(flow);
  const settle = settleExit(settings.exitQuietMs);
  let notice = settings.notice ?? null;
  // The PTY has ended (its descriptor may be gone) before the exit is reported.
  let ended = false;
  let exit: SessionExit | null = null;

  const deliver = (data: string | Buffer) => {
    // Bytes after the reported exit would reach the browser after `exit`; none are expected.
    if (exit) return;
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    scrollback.write(chunk);
    settings.onOutput?.();
    settle.touch();
    slot.current?.data(chunk);
  };
  pty.onData(deliver);
  drainAtEnd(pty, deliver);

  const session: TerminalSession = {
    id: randomUUID(),
    pid: pty.pid,
    get cols() {
      return pty.cols;
    },
    get rows() {
      return pty.rows;
    },
    get exit() {
      return exit;
    },
    get paused() {
      return flow.paused;
    },
    attach(consumer) {
      const detach = slot.attach(consumer);
      if (notice) consumer.notice(notice);
      notice = null;
      return detach;
    },
    readScrollback: () => scrollback.read(),
    notify: (message) => slot.current?.notice(message),
    write(input) {
      if (ended) return;
      settings.onInput();
      pty.write(typeof input === "string" ? input : Buffer.from(input));
    },
    resize(cols, rows) {
      if (!ended && (cols !== pty.cols || rows !== pty.rows)) resizeQuietly(pty, cols, rows);
    },
    pause: () => flow.pause(),
    resume: () => flow.resume(),
    kill(signal) {
      if (!ended) pty.kill(signal);
    },
  };

  pty.onExit(({ exitCode, signal }) => {
    ended = true;
    flow.stop();
    settle.start(() => {
      exit = { code: exitCode, signal: signal ? signal : null };
      slot.current?.exit(exit);
      settings.onExit(session);
    });
  });
  return session;
}

function spawnPty(settings: SessionSettings): IPty {
  const { shell } = settings;
  return spawn(shell.file, shell.args, {
    name: "xterm-256color",
    cols: settings.cols,
    rows: settings.rows,
    cwd: shell.cwd,
    env: shell.env,
    // Raw bytes: a chunk may end inside a UTF-8 character, and the browser decodes anyway.
    encoding: null,
  });
}

/** A resize racing the shell's exit fails on a closed descriptor; nothing is lost. */
function resizeQuietly(pty: IPty, cols: number, rows: number) {
  try {
    pty.resize(cols, rows);
  } catch {
    // The exit follows.
  }
}

/** The one consumer; a new one replaces the old, and a paused PTY reads on for it. */
function createConsumerSlot(flow: { resume(): void }) {
  const slot = {
    current: null as SessionConsumer | null,
    attach(next: SessionConsumer) {
      const previous = slot.current;
      slot.current = next;
      flow.resume();
      previous?.replace();
      return () => {
        if (slot.current !== next) return;
        slot.current = null;
        flow.resume();
      };
    },
  };
  return slot;
}

/**
 * node-pty destroys its read stream 200 ms after the shell exits, dropping whatever the
 * kernel still holds, so a session paused at that moment would lose the end of its output.
 * While paused it therefore checks the shell is alive, and reads on once it is not (the
 * kernel buffer is small, so memory stays bounded).
 */
function createFlowControl(pty: IPty, livenessPollMs: number) {
  let paused = false;
  let stopped = false;
  let watch: NodeJS.Timeout | undefined;
  const resume = () => {
    clearInterval(watch);
    if (!paused) return;
    paused = false;
    pty.resume();
  };
  return {
    get paused() {
      return paused;
    },
    pause() {
      if (paused || stopped || !isProcessAlive(pty.pid)) return;
      paused = true;
      pty.pause();
      watch = setInterval(() => {
        if (!isProcessAlive(pty.pid)) resume();
      }, livenessPollMs);
    },
    resume,
    stop() {
      stopped = true;
      resume();
    },
  };
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * libuv ends a stream when the PTY reports hang-up after a short read, although the kernel
 * may still hold output (a pty read returns at most about 4 KiB), so a fast command's last
 * kilobytes would vanish. At that end, before node-pty closes the descriptor, read the rest
 * synchronously. Uses node-pty's (untyped) `fd` and stream events; `encoding: null` above.
 */
function drainAtEnd(pty: IPty, deliver: (chunk: Buffer) => void) {
  const internals = pty as unknown as Partial<{
    fd: number;
    on(event: "end", listener: () => void): void;
  }>;
  if (typeof internals.fd !== "number" || typeof internals.on !== "function") return;
  const fd = internals.fd;
  internals.on("end", () => {
    const buffer = Buffer.alloc(64 * 1024);
    // The writer has hung up, so this ends; the cap is only a guard.
    for (let total = 0; total < maxDrainBytes;) {
      const count = readOrZero(fd, buffer);
      if (count === 0) return;
      total += count;
      deliver(Buffer.from(buffer.subarray(0, count)));
    }
  });
}

const maxDrainBytes = 4 * 1024 * 1024;

/** Bytes read; 0 at the end (EIO once the other side is closed and drained, or EAGAIN). */
function readOrZero(fd: number, buffer: Buffer): number {
  try {
    return readSync(fd, buffer, 0, buffer.length, null);
  } catch {
    return 0;
  }
}

/** node-pty can emit data after exit; pass the exit on only once output has gone quiet. */
function settleExit(quietMs: number) {
  let timer: NodeJS.Timeout | undefined;
  let finish: (() => void) | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => finish?.(), quietMs);
  };
  return {
    touch() {
      if (finish) arm();
    },
    start(callback: () => void) {
      finish = callback;
      arm();
    },
  };
}
