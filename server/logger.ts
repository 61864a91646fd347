import { pino, stdTimeFunctions, type DestinationStream, type Logger } from "pino";

export type { Logger };

// Paths pino blanks out wherever they appear, as a second line of defence: code should
// never hand a secret to the logger in the first place.
const redactedPaths = [
  "password",
  "token",
  "secret",
  "authorization",
  "cookie",
  "*.password",
  "*.token",
  "*.secret",
  "*.authorization",
  "*.cookie",
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
];

export function createLogger(options: {
  level: string;
  service: string;
  /** Where lines go; standard output unless given (tests capture them). */
  destination?: DestinationStream;
}): Logger {
  const settings = {
    level: options.level,
    base: { service: options.service, pid: process.pid },
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: redactedPaths, censor: "[redacted]" },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(settings, options.destination ?? createStandardOutput());
}

// Lines wait until this much is gathered, or the next flush below, before one write: a write
// per request line (a thread-pool hop and a system call) was a fifth of a tRPC call's CPU time
// in ADR 0028's profile.
const gatherBytes = 4096;
// How late a line may be when traffic is light.
const flushEveryMs = 200;

/**
 * Standard output, written asynchronously and in batches. pino flushes what is left
 * synchronously on exit, a fatal exit included (server/logger.test.ts).
 */
function createStandardOutput(): DestinationStream {
  const destination = pino.destination({ dest: 1, sync: false, minLength: gatherBytes });
  // flush() does nothing while a write is under way (its end writes what gathered meanwhile);
  // it throws only once the stream is destroyed, at exit, when nothing is left to write.
  const timer = setInterval(() => {
    try {
      destination.flush();
    } catch {
      clearInterval(timer);
    }
  }, flushEveryMs);
  timer.unref();
  return destination;
}
