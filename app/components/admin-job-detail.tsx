import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { useTRPC } from "../lib/trpc.ts";
import { AdminConfirmButton } from "./admin-confirm-button.tsx";
import { ErrorAlert } from "./error-alert.tsx";

const when = (date: Date | null) => (date ? date.toLocaleString() : "—");

/** One job: its facts, last error and log lines, with Retry and Cancel where they apply. */
export function AdminJobDetail({ id, onClose }: { id: number; onClose: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const job = useQuery({
    ...trpc.admin.jobs.get.queryOptions({ id }),
    refetchInterval: (query) =>
      query.state.data?.status === "queued" || query.state.data?.status === "running"
        ? 2_000
        : false,
  });
  const refresh = async () => {
    await queryClient.invalidateQueries(trpc.admin.pathFilter());
    await queryClient.invalidateQueries(trpc.audit.pathFilter());
  };
  const retry = useMutation(trpc.admin.jobs.retry.mutationOptions({ onSuccess: refresh }));
  const cancel = useMutation(trpc.admin.jobs.cancel.mutationOptions({ onSuccess: refresh }));
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [id]);

  const data = job.data;
  return (
    <section
      className="job-detail"
      aria-labelledby="job-detail-heading"
      aria-busy={job.isPending}
      data-testid="job-detail"
      data-status={data?.status}
    >
      <div className="job-detail-header">
        <h3 id="job-detail-heading" ref={heading} tabIndex={-1}>
          Job #{id}
        </h3>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <ErrorAlert error={job.error ?? retry.error ?? cancel.error} />
      {job.isPending ? <p className="hint">Loading the job…</p> : null}
      {data ? (
        <>
          <dl className="facts">
            <dt>Kind</dt>
            <dd>{data.kind}</dd>
            <dt>Status</dt>
            <dd>
              <span className={`job-status job-status-${data.status}`}>{data.status}</span>
            </dd>
            <dt>Attempts</dt>
            <dd>
              {data.attempts} of {data.maxAttempts}
            </dd>
            <dt>Workspace</dt>
            <dd className="break">{data.workspaceId ?? "—"}</dd>
            <dt>Created</dt>
            <dd>{when(data.createdAt)}</dd>
            <dt>Runs at</dt>
            <dd>{when(data.runAt)}</dd>
            <dt>Finished</dt>
            <dd>{when(data.finishedAt)}</dd>
            <dt>Worker</dt>
            <dd className="break">{data.lockedBy ?? "—"}</dd>
          </dl>
          {data.lastError ? (
            <>
              <h4>
                Last error
                {data.status === "succeeded" ? (
                  <span className="hint"> (of an earlier attempt)</span>
                ) : null}
              </h4>
              <pre className="job-error" data-testid="job-last-error">
                {data.lastError}
              </pre>
            </>
          ) : null}
          <div className="job-actions">
            {data.status === "failed" || data.status === "canceled" ? (
              <AdminConfirmButton
                label="Retry"
                question={`Run job #${id} again from its first attempt?`}
                onConfirm={() => retry.mutate({ id })}
                disabled={retry.isPending}
              />
            ) : null}
            {data.status === "queued" || data.status === "running" ? (
              <AdminConfirmButton
                label="Cancel job"
                question={`Cancel job #${id}? Its workspace, if any, goes to error.`}
                onConfirm={() => cancel.mutate({ id })}
                disabled={cancel.isPending}
                danger
              />
            ) : null}
          </div>
          <h4>Log</h4>
          {data.events.length === 0 ? (
            <p className="hint">No log lines.</p>
          ) : (
            <ol className="job-log">
              {data.events.map((event) => (
                <li key={event.id} className={event.level === "info" ? undefined : "bad"}>
                  <time dateTime={event.occurredAt.toISOString()}>
                    {event.occurredAt.toLocaleTimeString()}
                  </time>{" "}
                  <strong>{event.level}</strong> {event.message}
                </li>
              ))}
            </ol>
          )}
        </>
      ) : null}
    </section>
  );
}
