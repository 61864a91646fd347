import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

/** "4 s", "3 min 20 s", "2 h 5 min": how long the oldest due job has waited. */
export function formatAge(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

/** Queue depth and age, and what the jobs and workspaces are doing overall. */
export function AdminQueueSection() {
  const trpc = useTRPC();
  const stats = useQuery({ ...trpc.admin.stats.queryOptions(), refetchInterval: 5_000 });
  const data = stats.data;
  return (
    <section className="card" aria-labelledby="queue-heading" aria-busy={stats.isPending}>
      <h2 id="queue-heading">Queue</h2>
      <ErrorAlert error={stats.error} />
      {stats.isPending ? <p className="hint">Loading the queue…</p> : null}
      {data ? (
        <>
          <dl className="facts">
            <dt>Jobs due now</dt>
            <dd data-testid="queue-depth">{data.queueDepth}</dd>
            <dt>Oldest waiting</dt>
            <dd data-testid="queue-age">
              {data.queueDepth === 0 ? "nothing waits" : formatAge(data.oldestQueuedSeconds)}
            </dd>
            <dt>Workspaces</dt>
            <dd>
              {data.workspaces.length === 0
                ? "none"
                : data.workspaces.map((row) => `${row.count} ${row.state}`).join(", ")}
            </dd>
          </dl>
          <details className="admin-details">
            <summary>Jobs by kind and status</summary>
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Jobs by kind">
              <table className="data-table">
                <thead>
                  <tr>
                    <th scope="col">Kind</th>
                    <th scope="col">Status</th>
                    <th scope="col">Jobs</th>
                  </tr>
                </thead>
                <tbody>
                  {data.jobs.map((row) => (
                    <tr key={`${row.kind}/${row.status}`}>
                      <td>{row.kind}</td>
                      <td>{row.status}</td>
                      <td>{row.count}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </>
      ) : null}
    </section>
  );
}
