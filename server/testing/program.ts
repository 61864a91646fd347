import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

export type LogLine = Record<string, unknown> & { msg?: string };

export type RunningProgram = {
  child: ChildProcess;
  /** Everything the program printed so far, stdout and stderr interleaved. */
  output: () => string;
  /** Resolves with the first JSON log line whose `msg` matches. */
  waitForLog: (msg: string | RegExp, timeoutMs?: number) => Promise<LogLine>;
  /** Sends `signal` (if still running) and resolves with how the program ended. */
  stop: (
    signal?: NodeJS.Signals,
  ) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** Runs one of our TypeScript programs (relative to the project root) under Node + tsx. */
export function startNodeProgram(
  entry: string,
  args: string[],
  env: Record<string, string>,
): RunningProgram {
  return startProgram(
    process.execPath,
    ["--import", "tsx", path.join(projectRoot, entry), ...args],
    env,
  );
}

export function startProgram(
  command: string,
  args: string[],
  env: Record<string, string>,
): RunningProgram {
  const child = spawn(command, args, {
    cwd: projectRoot,
    // Many workers run at once across test files: each takes a free probe port unless told.
    env: { ...process.env, LOG_LEVEL: "info", WORKER_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  const take = (chunk: Buffer) => {
    text += chunk.toString("utf8");
    const parts = text.split("\n");
    for (const line of parts.slice(lines.length, -1)) lines.push(parseLine(line));
    for (const wake of waiters) wake();
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const waitForLog = (msg: string | RegExp, timeoutMs = 60_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const matches = (line: LogLine) =>
        typeof line.msg === "string" &&
        (typeof msg === "string" ? line.msg === msg : msg.test(line.msg));
      const check = () => {
        const found = lines.find(matches);
        if (found) finish(() => resolve(found));
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`no log line ${String(msg)} within ${timeoutMs} ms:\n${text}`)),
          ),
        timeoutMs,
      );
      void exited.then(() =>
        setTimeout(
          () =>
            finish(() =>
              reject(new Error(`program exited before logging ${String(msg)}:\n${text}`)),
            ),
          50,
        ),
      );
      function finish(settle: () => void) {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      }
      waiters.add(check);
      check();
    });
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { child, output: () => text, waitForLog, stop, exited };
}

function parseLine(line: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === "object" && parsed !== null ? (parsed as LogLine) : { text: line };
  } catch {
    return { text: line };
  }
}
