import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import type { AppRouter } from "../../server/trpc/root.ts";
import { useTRPC } from "../lib/trpc.ts";
import { AdminJobDetail } from "./admin-job-detail.tsx";
import { AdminJobFilters, type JobFilterValues } from "./admin-job-filters.tsx";
import { ErrorAlert } from "./error-alert.tsx";

type JobRow = inferRouterOutputs<AppRouter>["admin"]["jobs"]["list"]["items"][number];

const pageSize = 20;

/** The jobs table: filters, newest first, one page at a time, and the chosen job's detail. */
export function AdminJobsSection() {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<JobFilterValues>({});
  // The cursor of each page seen so far, so "Newer" goes back without a reverse query.
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const [selected, setSelected] = useState<number | null>(null);
  const cursor = cursors.at(-1);
  const list = useQuery({
    ...trpc.admin.jobs.list.queryOptions({ ...filter, cursor, limit: pageSize }),
    placeholderData: keepPreviousData,
    refetchInterval: 3_000,
  });
  const stats = useQuery(trpc.admin.stats.queryOptions());
  const kinds = [...new Set(stats.data?.jobs.map((row) => row.kind) ?? [])].sort();

  function applyFilter(next: JobFilterValues) {
    setFilter(next);
    setCursors([undefined]);
  }

  return (
    <section className="card" aria-labelledby="jobs-heading">
      <h2 id="jobs-heading">Jobs</h2>
      <AdminJobFilters kinds={kinds} onApply={applyFilter} />
      <ErrorAlert error={list.error} />
      {list.isPending ? <p className="hint">Loading jobs…</p> : null}
      {list.data ? (
        <JobsTable jobs={list.data.items} selected={selected} onSelect={setSelected} />
      ) : null}
      <nav className="pager" aria-label="Job pages">
        <button
          type="button"
          onClick={() => setCursors(cursors.slice(0, -1))}
          disabled={cursors.length === 1}
        >
          Newer
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          onClick={() => list.data?.nextCursor && setCursors([...cursors, list.data.nextCursor])}
          disabled={!list.data?.nextCursor || list.isPlaceholderData}
        >
          Older
        </button>
      </nav>
      {selected === null ? null : (
        <AdminJobDetail id={selected} onClose={() => setSelected(null)} />
      )}
    </section>
  );
}

function JobsTable({
  jobs,
  selected,
  onSelect,
}: {
  jobs: JobRow[];
  selected: number | null;
  onSelect: (id: number) => void;
}) {
  if (jobs.length === 0) return <p className="hint">No job matches these filters.</p>;
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Jobs">
      <table className="data-table">
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr
              key={job.id}
              data-testid="job-row"
              data-job-id={job.id}
              data-status={job.status}
              className={job.id === selected ? "selected" : undefined}
            >
              <td>#{job.id}</td>
              <td>
                {job.kind}
                {job.workspaceId ? (
                  <span className="hint break"> {job.workspaceId.slice(0, 8)}</span>
                ) : null}
              </td>
              <td>
                <span className={`job-status job-status-${job.status}`}>{job.status}</span>
              </td>
              <td>
                {job.attempts}/{job.maxAttempts}
              </td>
              <td>{job.createdAt.toLocaleString()}</td>
              <td>
                <button type="button" onClick={() => onSelect(job.id)}>
                  Details<span className="visually-hidden"> of job #{job.id}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
