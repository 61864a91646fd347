// The image's HEALTHCHECK: GET /healthz of whichever program is PID 1. The web listens on
// PORT; the worker serves its probes on WORKER_PORT. HEALTHCHECK_URL overrides both.
// It reads process.env itself, not through server/env.ts (elsewhere the only reader): Docker
// starts it on its own every 15 s as plain `node`, without tsx or any of our modules, and it
// needs three variables, not every setting parsed and checked (the program did that already).
// Its defaults are the same as env.ts's.
/* global fetch, AbortSignal -- Node 20 globals; this file runs as plain JavaScript in the image */
import { readFileSync } from "node:fs";
import process from "node:process";

const entry = readFileSync("/proc/1/cmdline", "utf8");
const port = entry.includes("worker")
  ? (process.env.WORKER_PORT ?? "9464")
  : (process.env.PORT ?? "3000");
const url = process.env.HEALTHCHECK_URL ?? `http://127.0.0.1:${port}/healthz`;

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  process.exitCode = response.ok ? 0 : 1;
  if (!response.ok) process.stderr.write(`${url} answered ${response.status}\n`);
} catch (error) {
  process.stderr.write(`${url}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
