// Idle detection (SPEC §9, §14). A workspace is active while someone types in a terminal or
// an AI agent reports `working` in a session (`caw status working`); output never counts. The
// idle timeout runs from the last activity: the last input, or the last moment a session was
// working. A session working with no input for `maxWorkingMs` stops counting, so a runaway
// agent cannot keep a machine up forever. `warningMs` before the stop the terminals are told
// what stops, when, why and how to keep it running, and the coming stop is announced (for the
// session report); at the stop the agent asks the control plane to stop the workspace, once.

export type IdleStop = { at: Date; reason: string };

export type IdleMonitorOptions = {
  timeoutMs: number;
  warningMs: number;
  /** The longest a session may work with nobody typing (bootstrap `maxWorkingHours`). */
  maxWorkingMs: number;
  /** The last terminal input (or new connection); null: none since the agent started. */
  lastInputAt: () => Date | null;
  /** The live sessions' statuses. */
  sessions: () => ReadonlyArray<{ status: string | null }>;
  warn: (message: string) => void;
  /** The stop coming within the warning time, or null once activity called it off. */
  announce: (stop: IdleStop | null) => void;
  reportIdle: (reason: string) => Promise<void>;
  now?: () => number;
};

export type IdleMonitor = {
  check: () => Promise<void>;
  /** The announced stop, if one is coming (for the heartbeat's session report). */
  announced: () => IdleStop | null;
};

export function createIdleMonitor(options: IdleMonitorOptions): IdleMonitor {
  const now = options.now ?? Date.now;
  const startedAt = now();
  let lastWorkingAt: number | null = null;
  let announced: IdleStop | null = null;
  let reported = false;

  /** When the workspace stops if nothing changes, and why. */
  const plan = (at: number): { at: number; reason: string } => {
    const input = options.lastInputAt()?.getTime() ?? startedAt;
    const runawayAt = input + options.maxWorkingMs;
    if (options.sessions().some((session) => session.status === "working")) {
      if (at < runawayAt) lastWorkingAt = at;
      return { at: runawayAt, reason: runawayReason(options.maxWorkingMs) };
    }
    const last = Math.max(input, Math.min(lastWorkingAt ?? input, runawayAt));
    return {
      at: last + options.timeoutMs,
      reason: `idle for ${formatDuration(options.timeoutMs)}`,
    };
  };

  return {
    announced: () => announced,
    async check() {
      if (reported) return;
      const at = now();
      const stop = plan(at);
      if (at >= stop.at) {
        reported = true;
        await options.reportIdle(stop.reason).catch((error: unknown) => {
          reported = false; // try again at the next check
          throw error;
        });
        return;
      }
      if (at < stop.at - options.warningMs) {
        if (announced) options.announce((announced = null));
        return;
      }
      if (announced?.at.getTime() === stop.at && announced.reason === stop.reason) return;
      announced = { at: new Date(stop.at), reason: stop.reason };
      options.announce(announced);
      options.warn(warningText(announced, stop.at - at));
    },
  };
}

const runawayReason = (maxWorkingMs: number) =>
  `an AI agent worked ${formatDuration(maxWorkingMs)} with no input`;

function warningText(stop: IdleStop, inMs: number): string {
  const minutes = Math.max(1, Math.ceil(inMs / 60_000));
  const time = stop.at.toISOString().slice(11, 16);
  const keep = stop.reason.startsWith("idle")
    ? "type anything in a terminal, or an AI agent can run `caw status working`"
    : "type anything in a terminal";
  return (
    `This workspace stops at ${time} UTC, in ${minutes} minute${minutes === 1 ? "" : "s"} ` +
    `(${stop.reason}): its sessions end, your files are kept. To keep it running, ${keep}.`
  );
}

/** `30 min`, `8 h`, `1 h 30 min`, `45 s`: how people say a timeout. */
export function formatDuration(ms: number): string {
  const totalMinutes = Math.round(ms / 60_000);
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (hours === 0) return `${minutes} min`;
  return minutes === 0 ? `${hours} h` : `${hours} h ${minutes} min`;
}
