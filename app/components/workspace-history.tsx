import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { pollUnlessLive } from "../lib/live-updates.ts";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";
import { useLive } from "./live-updates.tsx";
import { pollWhileBusy } from "./workspace-state.tsx";

// A workspace's latest job log and its timeline. Both are separate queries from the workspace
// itself; the page's state is their clock: when it changes, they are asked again, so the
// timeline can never stop behind the state shown above it (issue #14: it stopped at
// "provisioning" because its last poll came before the state became running, and polling
// ended with the busy state).

/** Refetches the job log and the timeline whenever the workspace's state changes. */
export function useHistoryFollowsState(id: string, state: string) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  useEffect(() => {
    void queryClient.invalidateQueries({ queryKey: trpc.workspaces.events.queryKey({ id }) });
    void queryClient.invalidateQueries({ queryKey: trpc.workspaces.jobLog.queryKey({ id }) });
  }, [id, state, queryClient, trpc]);
}

export function JobLog({ id, state }: { id: string; state: string }) {
  const trpc = useTRPC();
  const live = useLive();
  const log = useQuery({
    ...trpc.workspaces.jobLog.queryOptions({ id }),
    refetchInterval: (query) =>
      pollUnlessLive(
        live,
        pollWhileBusy(state) || (query.state.data?.status === "running" ? 2_000 : false),
      ),
  });
  if (!log.data) return <ErrorAlert error={log.error} />;
  const { data } = log;
  return (
    <section className="card" aria-labelledby="job-heading">
      <h2 id="job-heading">
        Latest job: {data.kind} ({data.status}, attempt {data.attempts} of {data.maxAttempts})
      </h2>
      {data.lastError ? <p className="bad">{data.lastError}</p> : null}
      <ol className="log" aria-live="polite" data-testid="job-log" aria-busy={log.isPending}>
        {data.lines.map((line) => (
          <li key={line.id} className={`log-${line.level}`}>
            <time>{line.occurredAt.toLocaleTimeString()}</time> {line.message}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function Timeline({ id, state }: { id: string; state: string }) {
  const trpc = useTRPC();
  const live = useLive();
  const events = useQuery({
    ...trpc.workspaces.events.queryOptions({ id }),
    // Also while its last entry is not the state shown: it is behind, ask again.
    refetchInterval: (query) =>
      pollUnlessLive(
        live,
        query.state.data?.at(-1)?.toState !== state ? 1_000 : pollWhileBusy(state),
      ),
  });
  return (
    <section className="card" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline</h2>
      <ErrorAlert error={events.error} />
      <ol className="timeline" data-testid="timeline" aria-busy={events.isPending}>
        {events.data?.map((event) => (
          <li key={event.id} data-state={event.toState}>
            <time>{event.occurredAt.toLocaleString()}</time> <strong>{event.toState}</strong> —{" "}
            {event.reason} <span className="hint">({event.actor})</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
