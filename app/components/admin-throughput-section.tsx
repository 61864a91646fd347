import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

type Bucket = { minute: Date; succeeded: number; failed: number };

const width = 600;
const height = 120;
const slot = width / 60;

/** One sentence for screen readers and anyone who prefers numbers to bars. */
function summarize(buckets: Bucket[]): string {
  const succeeded = buckets.reduce((sum, bucket) => sum + bucket.succeeded, 0);
  const failed = buckets.reduce((sum, bucket) => sum + bucket.failed, 0);
  if (succeeded + failed === 0) return "No job finished in the last hour.";
  const busiest = buckets.reduce((best, bucket) =>
    bucket.succeeded + bucket.failed > best.succeeded + best.failed ? bucket : best,
  );
  const time = busiest.minute.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const jobs = (count: number) => `${count} ${count === 1 ? "job" : "jobs"}`;
  return `In the last hour ${jobs(succeeded)} succeeded and ${failed} failed; the busiest minute was ${time} with ${jobs(busiest.succeeded + busiest.failed)}.`;
}

/** Stacked bars (hidden from screen readers, which get the summary instead), succeeded below failed, one per minute, the current minute on the right. */
function ThroughputChart({ buckets }: { buckets: Bucket[] }) {
  const peak = Math.max(1, ...buckets.map((bucket) => bucket.succeeded + bucket.failed));
  const scale = (count: number) => (count / peak) * (height - 4);
  return (
    <svg
      className="throughput-chart"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      aria-hidden="true"
      focusable="false"
    >
      <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} className="chart-axis" />
      {buckets.map((bucket, index) => {
        const ok = scale(bucket.succeeded);
        const bad = scale(bucket.failed);
        const x = index * slot + 1;
        return (
          <g key={bucket.minute.getTime()}>
            <title>{`${bucket.minute.toLocaleTimeString()}: ${bucket.succeeded} succeeded, ${bucket.failed} failed`}</title>
            <rect x={x} y={height - ok} width={slot - 2} height={ok} className="chart-ok" />
            <rect x={x} y={height - ok - bad} width={slot - 2} height={bad} className="chart-bad" />
          </g>
        );
      })}
    </svg>
  );
}

export function AdminThroughputSection() {
  const trpc = useTRPC();
  const throughput = useQuery({
    ...trpc.admin.jobs.throughput.queryOptions(),
    refetchInterval: 15_000,
  });
  const summary = throughput.data ? summarize(throughput.data) : "";
  return (
    <section className="card" aria-labelledby="throughput-heading" aria-busy={throughput.isPending}>
      <h2 id="throughput-heading">Throughput, last hour</h2>
      <ErrorAlert error={throughput.error} />
      {throughput.isPending ? <p className="hint">Loading…</p> : null}
      {throughput.data ? (
        <figure className="chart-figure">
          <ThroughputChart buckets={throughput.data} />
          <figcaption data-testid="throughput-summary">
            {summary} <span className="legend-ok">■ succeeded</span>{" "}
            <span className="legend-bad">■ failed</span>
          </figcaption>
        </figure>
      ) : null}
    </section>
  );
}
