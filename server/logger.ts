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
  // Standard output is written asynchronously: lines written while one write is under way go
  // out together in the next (one syscall for many request lines under load; ADR 0026). pino
  // flushes what is left synchronously on exit, a fatal exit included.
  return pino(settings, options.destination ?? pino.destination({ dest: 1, sync: false }));
}
