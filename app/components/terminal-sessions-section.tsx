import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { pollUnlessLive } from "../lib/live-updates.ts";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";
import { useLive } from "./live-updates.tsx";
import { TerminalSessionRow } from "./terminal-sessions-row.tsx";

/**
 * SPEC §14: a running workspace's terminal (tmux) sessions as its agent last reported them,
 * refetched on each live change of the workspace (or every 2 s while the push is down).
 */
export function TerminalSessionsSection({ workspaceId }: { workspaceId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const live = useLive();
  const sessions = useQuery({
    ...trpc.sessions.list.queryOptions({ workspaceId }),
    refetchInterval: pollUnlessLive(live, 2_000),
  });
  const refresh = () =>
    queryClient.invalidateQueries({ queryKey: trpc.sessions.list.queryKey({ workspaceId }) });
  const create = useMutation(trpc.sessions.create.mutationOptions({ onSuccess: refresh }));

  return (
    <section className="card" aria-labelledby="sessions-heading">
      <header className="row">
        <h2 id="sessions-heading">Sessions</h2>
        <button
          type="button"
          onClick={() => create.mutate({ workspaceId })}
          disabled={create.isPending}
        >
          New session
        </button>
      </header>
      <ErrorAlert error={create.error ?? sessions.error} />
      {sessions.data?.length === 0 ? (
        <p className="hint" data-testid="sessions-empty">
          No sessions yet: open a terminal to start one.
        </p>
      ) : null}
      {sessions.data?.length ? (
        <div className="table-scroll">
          <table className="data-table" aria-labelledby="sessions-heading">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Started</th>
                <th scope="col">Last output</th>
                <th scope="col" className="wide">
                  AI status
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.data.map((session) => (
                <TerminalSessionRow
                  key={session.name}
                  workspaceId={workspaceId}
                  session={session}
                  // Relative times count from the last answer, so each poll moves them on.
                  now={sessions.dataUpdatedAt}
                  onChange={refresh}
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
