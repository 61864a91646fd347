// Idle detection (SPEC §9): activity is terminal input and new connections, never output.
// Open terminals are warned `warningMs` before the timeout; at the timeout the agent asks the
// control plane to stop the workspace, once. Activity after a warning starts the count anew.

export type IdleMonitorOptions = {
  timeoutMs: number;
  warningMs: number;
  lastActivityAt: () => Date;
  warn: (message: string) => void;
  reportIdle: () => Promise<void>;
  now?: () => number;
};

export type IdleMonitor = { check: () => Promise<void> };

export function createIdleMonitor(options: IdleMonitorOptions): IdleMonitor {
  const now = options.now ?? Date.now;
  let warnedFor: number | null = null;
  let reported = false;
  return {
    async check() {
      const lastActivity = options.lastActivityAt().getTime();
      const idleMs = now() - lastActivity;
      if (reported) return;
      if (idleMs >= options.timeoutMs) {
        reported = true;
        await options.reportIdle().catch((error: unknown) => {
          reported = false; // try again at the next check
          throw error;
        });
        return;
      }
      if (idleMs >= options.timeoutMs - options.warningMs && warnedFor !== lastActivity) {
        warnedFor = lastActivity;
        const minutes = Math.ceil((options.timeoutMs - idleMs) / 60_000);
        options.warn(
          `This workspace stops in ${minutes} minute${minutes === 1 ? "" : "s"} unless you type something. Your files are kept.`,
        );
      }
    },
  };
}
