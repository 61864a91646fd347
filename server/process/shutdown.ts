import type { Logger } from "../logger.ts";

const defaultDeadlineMs = 30_000;

/**
 * Runs `drain` once on the first SIGINT or SIGTERM, then exits. Further signals (Ctrl-C
 * reaches every process of the group, and the launcher forwards it too) are ignored while
 * draining; a drain that hangs is cut off after `deadlineMs` so the process never lingers
 * (programs with a drain grace setting pass the grace plus what follows it).
 */
export function onShutdownSignal(
  logger: Logger,
  drain: (signal: string) => Promise<number | void>,
  { deadlineMs = defaultDeadlineMs }: { deadlineMs?: number } = {},
): void {
  let draining = false;
  const handle = (signal: NodeJS.Signals) => {
    if (draining) return;
    draining = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error({ deadlineMs }, "shutdown took too long; exiting anyway");
      process.exit(1);
    }, deadlineMs).unref();
    drain(signal).then(
      (code) => process.exit(code ?? 0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", handle);
  process.on("SIGTERM", handle);
}
