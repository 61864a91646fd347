import path from "node:path";
import {
  sessionStatuses,
  sessionStatusMessageMaxLength,
  type SessionStatus,
} from "../../protocol/agent-sessions.ts";
import { readCliEnvironment, type CliEnvironment } from "../config.ts";
import { exportLines, sessionsTable } from "./cli-output.ts";
import { askAgent, ControlError } from "./control-client.ts";
import {
  controlErrorSchema,
  envAnswerSchema,
  sessionsAnswerSchema,
  statusAnswerSchema,
  type ControlRequest,
} from "./control-protocol.ts";

// `caw`: the workspace's own CLI (SPEC §14), the agent binary run as `caw …` (a symlink or the
// sh wrapper prepareCawCommand makes) or with a CLI command as its first argument. It runs on
// every Claude Code hook, so it starts fast: no network, only the local control socket.

export const cliCommands = [
  "status",
  "sessions",
  "env",
  "codex-notify",
  "install-hooks",
  "help",
] as const;

/** Whether this process was started as the CLI rather than as the agent. */
export function isCliInvocation(
  argv: readonly string[] = process.argv,
  argv0 = process.argv0,
): boolean {
  // In the single executable argv[1] repeats how it was invoked: `caw` through the symlink.
  const invokedAs = [argv[1], argv0].map((name) => path.basename(name ?? ""));
  const first = argv[2] ?? "";
  return (
    invokedAs.includes("caw") ||
    first === "caw" ||
    (cliCommands as readonly string[]).includes(first)
  );
}

export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  environment: CliEnvironment;
  /** A hook's JSON on stdin (Claude Code); null when there is none. */
  readHookInput: () => Promise<unknown>;
};

const defaultIo = (): CliIo => ({
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  environment: readCliEnvironment(),
  readHookInput,
});

/** Runs one CLI command; answers the exit code. `argv` is the arguments after `caw`. */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const [command = "help", ...rest] = argv;
  const hook = rest.includes("--hook");
  const args = rest.filter((arg) => arg !== "--hook");
  try {
    switch (command) {
      case "status":
        return await setStatus(args, hook, io);
      case "sessions":
        return await listSessions(args, io);
      case "env":
        return await printEnvironment(io);
      case "codex-notify":
        return await codexNotify(args, io);
      case "install-hooks":
        return await installHooks(args, io);
      case "help":
      case "--help":
      case "-h":
        io.stdout(helpText);
        return 0;
      default:
        io.stderr(`caw: unknown command "${command}". Run \`caw help\` for the commands.\n`);
        return 2;
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`caw ${command}: ${message}\n`);
    // A hook must never get in the AI agent's way: its failure is reported, not fatal.
    return hook ? 0 : 1;
  }
}

async function setStatus(args: string[], hook: boolean, io: CliIo): Promise<number> {
  const [status, ...words] = args;
  if (!(sessionStatuses as readonly string[]).includes(status ?? "")) {
    io.stderr(
      `caw status: expected one of ${sessionStatuses.join(", ")}; e.g. caw status working\n`,
    );
    return 2;
  }
  let message = words.join(" ").trim();
  if (!message && hook) message = notificationMessage(await io.readHookInput());
  const { session, pane } = io.environment;
  if (!session && !pane)
    throw new ControlError(
      "not inside a workspace session: run this in a terminal of the workspace " +
        "(its shells set CAW_SESSION), or set CAW_SESSION to a session's name.",
    );
  const answer = await ask(io, {
    op: "status",
    ...(session ? { session } : {}),
    ...(pane ? { pane } : {}),
    status: status as SessionStatus,
    message: message ? truncate(message, sessionStatusMessageMaxLength) : null,
  });
  const { session: info } = statusAnswerSchema.parse(answer);
  if (!hook)
    io.stdout(
      `${info.name}: ${info.status}${info.statusMessage ? ` (${info.statusMessage})` : ""}\n`,
    );
  return 0;
}

async function listSessions(args: string[], io: CliIo): Promise<number> {
  const { sessions } = sessionsAnswerSchema.parse(await ask(io, { op: "sessions" }));
  io.stdout(
    args.includes("--json") ? `${JSON.stringify(sessions, null, 2)}\n` : sessionsTable(sessions),
  );
  return 0;
}

/** For `eval "$(caw env)"`: the secrets as exports on stdout, nothing else there. */
async function printEnvironment(io: CliIo): Promise<number> {
  const answer = await ask(io, { op: "env" }).catch((error: unknown) => {
    // The launcher shows this one line and starts the shell anyway.
    const reason = error instanceof Error ? error.message : String(error);
    throw new ControlError(`no workspace secrets in this shell (${reason})`);
  });
  const { secrets } = envAnswerSchema.parse(answer);
  const { text, skipped } = exportLines(secrets);
  io.stdout(text);
  if (skipped.length > 0)
    io.stderr(
      `caw env: skipped secrets whose names are not environment variables: ${skipped.join(", ")}\n`,
    );
  return 0;
}

/** Codex's `notify` program: one JSON argument; a finished turn means done. */
async function codexNotify(args: string[], io: CliIo): Promise<number> {
  let event: unknown;
  try {
    event = JSON.parse(args.at(-1) ?? "");
  } catch {
    io.stderr("caw codex-notify: expected Codex's notification JSON as the last argument.\n");
    return 0; // never fail Codex over its own notification
  }
  if ((event as { type?: unknown } | null)?.type !== "agent-turn-complete") return 0;
  return setStatus(["done"], true, io);
}

async function installHooks(args: string[], io: CliIo): Promise<number> {
  const { installAgentHooksHere } = await import("../agent-hooks.ts");
  const option = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const home = option("--home") ?? io.environment.home;
  const result = await installAgentHooksHere(home, option("--caw") ?? "caw");
  io.stdout(`Claude Code: ${result.claude}\nCodex: ${result.codex}\n`);
  return 0;
}

async function ask(io: CliIo, request: ControlRequest): Promise<unknown> {
  const answer = await askAgent(io.environment.socketPath, request);
  const refused = controlErrorSchema.safeParse(answer);
  if (refused.success) throw new ControlError(refused.data.error);
  return answer;
}

/** Claude Code's Notification hook says why it waits ("Claude needs your permission to use Bash"). */
function notificationMessage(input: unknown): string {
  const event = input as { hook_event_name?: unknown; message?: unknown } | null;
  return event?.hook_event_name === "Notification" && typeof event.message === "string"
    ? event.message
    : "";
}

const truncate = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

/** A hook's stdin: at most 64 KiB, and never waiting more than half a second for it. */
async function readHookInput(): Promise<unknown> {
  if (process.stdin.isTTY) return null;
  const text = await new Promise<string>((resolve) => {
    let data = "";
    const done = () => {
      clearTimeout(timer);
      process.stdin.destroy();
      resolve(data);
    };
    const timer = setTimeout(done, 500);
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => {
      data += chunk;
      if (data.length > 64 * 1024) done();
    });
    process.stdin.on("end", done);
    process.stdin.on("error", done);
  });
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const helpText = `caw: the workspace's own CLI (Cloud AI Workspaces)

  caw status working|waiting|done|error [message…]
      Sets the AI-agent status of the session this shell runs in. While a session is
      working the workspace does not stop for idleness (up to its longest working time).
  caw sessions [--json]      Lists the workspace's sessions and their statuses.
  caw env                    Prints the workspace's secrets as shell exports
                             (eval "$(caw env)" refreshes them in this shell).
  caw codex-notify '<json>'  Codex's notify hook: a finished turn sets "done".
  caw install-hooks          Puts the Claude Code and Codex hooks back in ~/.claude and ~/.codex.
  caw help                   This text.

Claude Code and Codex report by themselves through hooks the workspace installs;
any other agent or script can call \`caw status\` itself.
`;
