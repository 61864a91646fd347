import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import type { EngineStats } from "../services/engine-stats.ts";

export type HttpMetrics = ReturnType<typeof createHttpMetrics>;
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const heartbeatPath = "/api/agent/heartbeat";

/** The web's registry: process metrics, HTTP requests, agent heartbeats (SPEC §11). */
export function createHttpMetrics() {
  const registry = createProcessRegistry();
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by method, route and status code.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time to answer HTTP requests, by method and route.",
    labelNames: ["method", "route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const heartbeats = new Counter({
    name: "caw_agent_heartbeats_total",
    help: "Heartbeats received from workspace agents, by outcome (accepted or refused).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  return {
    registry,
    observeRequest(sample: { method: string; pathname: string; status: number; seconds: number }) {
      const method = knownMethods.has(sample.method) ? sample.method : "OTHER";
      const route = routeLabel(sample.pathname);
      requests.inc({ method, route, status: String(sample.status) });
      duration.observe({ method, route }, sample.seconds);
      // Counted where every answer is seen, so agent-routes.ts needs no metrics of its own.
      if (sample.pathname === heartbeatPath && method === "POST")
        heartbeats.inc({ outcome: sample.status < 300 ? "accepted" : "refused" });
    },
    observeOutboundRequest: registerOutboundRequests(registry),
  };
}

/** The worker's registry: process metrics, job durations, requests to providers. */
export function createWorkerMetrics() {
  const registry = createProcessRegistry();
  const jobDuration = new Histogram({
    name: "caw_job_duration_seconds",
    help: "Time a job's handler ran in this worker, by kind and outcome (succeeded, failed, released).",
    labelNames: ["kind", "outcome"] as const,
    // Jobs range from a DNS record (well under a second) to a server's boot (minutes).
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  return {
    registry,
    observeJob(sample: { kind: string; outcome: string; seconds: number }) {
      jobDuration.observe({ kind: sample.kind, outcome: sample.outcome }, sample.seconds);
    },
    observeOutboundRequest: registerOutboundRequests(registry),
  };
}

/** Requests this process sent to Hetzner, Cloudflare and GitHub, counted by their clients. */
function registerOutboundRequests(registry: Registry): OutboundRequestObserver {
  const counter = new Counter({
    name: "caw_provider_requests_total",
    help: "HTTP requests sent to providers (hetzner, cloudflare, github), by answer status; 'none' when no answer came.",
    labelNames: ["provider", "status"] as const,
    registers: [registry],
  });
  return ({ provider, status }) =>
    counter.inc({ provider, status: status === undefined ? "none" : String(status) });
}

/** Node's default metrics, less those Prometheus's naming rules reject. */
function createProcessRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // These gauges break Prometheus naming rules (`_total` is for counters) and repeat what
  // nodejs_active_handles / _requests / _resources already report; promtool flags them.
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ]) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

// Labels must have few values: raw paths would grow the series without bound.
export function routeLabel(pathname: string): string {
  if (pathname === "/healthz" || pathname === "/readyz" || pathname === "/metrics") return pathname;
  if (pathname.startsWith("/api/trpc/")) return "/api/trpc";
  if (pathname.startsWith("/build/")) return "/build";
  return "page";
}

/**
 * Jobs by kind and status, queue depth and age, and workspaces by state, read from the
 * database at scrape time so every web process reports the same numbers.
 */
export function registerEngineMetrics(registry: Registry, readStats: () => Promise<EngineStats>) {
  let pending: Promise<EngineStats | null> | null = null;
  // One query per scrape, shared by the four gauges; null while the database is away.
  const stats = () =>
    (pending ??= readStats()
      .catch(() => null)
      .finally(() => setTimeout(() => (pending = null), 0)));
  const gauge = <Label extends string>(
    name: string,
    help: string,
    labelNames: readonly Label[],
    fill: (metric: Gauge<Label>, current: EngineStats) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const current = await stats();
        this.reset();
        if (current) fill(this, current);
      },
    });
  gauge("caw_jobs", "Jobs by kind and status.", ["kind", "status"], (metric, current) => {
    for (const row of current.jobs) metric.set({ kind: row.kind, status: row.status }, row.count);
  });
  gauge(
    "caw_job_queue_depth",
    "Jobs ready to run and waiting for a worker.",
    [],
    (metric, current) => metric.set(current.queueDepth),
  );
  gauge(
    "caw_job_queue_oldest_age_seconds",
    "How long the oldest ready job has waited.",
    [],
    (metric, current) => metric.set(current.oldestQueuedSeconds),
  );
  gauge("caw_workspaces", "Workspaces by state.", ["state"], (metric, current) => {
    for (const row of current.workspaces) metric.set({ state: row.state }, row.count);
  });
}
