import autocannon from "autocannon";

// The HTTP bench's load generator: autocannon (npm), because it keeps `connections`
// keep-alive connections each with one request in flight, counts every answer's status and
// reports latency percentiles from an HDR histogram, all in-process: one tool for every
// target of the run, so they share its costs alike.

export type LoadResult = {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  n: number;
  /** Answers that were not 2xx, and connection errors/timeouts: a figure with any is void. */
  failures: number;
};

export async function applyLoad(options: {
  url: string;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
}): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    headers: options.headers,
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    n: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}
