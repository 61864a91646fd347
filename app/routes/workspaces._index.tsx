import type { MetaFunction } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { useQueries, useQuery } from "@tanstack/react-query";
import { ErrorAlert } from "../components/error-alert.tsx";
import { LiveUpdates, useLive } from "../components/live-updates.tsx";
import { SignedInPage } from "../components/signed-in-page.tsx";
import { AgentStatusBadge } from "../components/terminal-sessions-status.tsx";
import { MonthCost, useWorkspaceCosts, WorkspaceCost } from "../components/workspace-cost.tsx";
import { WorkspaceState } from "../components/workspace-state.tsx";
import { pollUnlessLive } from "../lib/live-updates.ts";
import { workspaceAgentStatus } from "../lib/session-status.ts";
import { useTRPC } from "../lib/trpc.ts";

export const meta: MetaFunction = () => [{ title: "Workspaces · Cloud AI Workspaces" }];

export default function Workspaces() {
  return (
    <SignedInPage what="see your workspaces">
      {() => (
        <>
          <header className="page-header row">
            <h1>Workspaces</h1>
            <Link to="/workspaces/new" className="button primary">
              New workspace
            </Link>
          </header>
          <LiveUpdates>
            <WorkspaceList />
          </LiveUpdates>
        </>
      )}
    </SignedInPage>
  );
}

function WorkspaceList() {
  const trpc = useTRPC();
  const live = useLive();
  // Changes arrive by push; only while it is down: while any workspace is on its way
  // somewhere, ask again every 2 s; while one runs, every 5 s (an idle stop may be announced).
  const workspaces = useQuery({
    ...trpc.workspaces.list.queryOptions(),
    refetchInterval: (query) =>
      pollUnlessLive(
        live,
        query.state.data?.some((row) => !["running", "stopped", "error"].includes(row.state))
          ? 2_000
          : query.state.data?.some((row) => row.state === "running")
            ? 5_000
            : 15_000,
      ),
  });
  const running = workspaces.data?.filter((row) => row.state === "running") ?? [];
  // One sessions.list per running workspace until the list carries its sessions itself.
  const sessions = useQueries({
    queries: running.map((row) => ({
      ...trpc.sessions.list.queryOptions({ workspaceId: row.id }),
      refetchInterval: pollUnlessLive(live, 5_000),
    })),
  });
  const costs = useWorkspaceCosts();
  const sessionsOf = new Map(running.map((row, index) => [row.id, sessions[index]?.data ?? []]));
  if (workspaces.isPending) return <p aria-busy="true">Loading your workspaces…</p>;
  if (workspaces.isError) return <ErrorAlert error={workspaces.error} />;
  if (workspaces.data.length === 0)
    return (
      <section className="card empty" data-testid="workspaces-empty">
        <h2>No workspaces yet</h2>
        <p>
          A workspace is a cloud machine with one of your GitHub repositories cloned into it and a
          terminal in your browser. It stops by itself when you leave it idle.
        </p>
        <Link to="/workspaces/new" className="button primary">
          Create your first workspace
        </Link>
      </section>
    );
  return (
    <>
      <ul className="row-list workspace-list">
        {workspaces.data.map((workspace) => (
          <li key={workspace.id} className="card" data-testid="workspace-row">
            <span>
              <Link to={`/workspaces/${workspace.id}`} className="workspace-name">
                <strong>{workspace.name}</strong>
              </Link>{" "}
              <span className="hint">
                {workspace.repository} · {workspace.branch} ·
              </span>{" "}
              <WorkspaceCost cost={costs.get(workspace.id)} provider={workspace.provider} />
            </span>
            <span className="row">
              {workspace.state === "running" ? (
                <AgentStatusBadge
                  status={workspaceAgentStatus(workspace, sessionsOf.get(workspace.id) ?? [])}
                  hideNone
                />
              ) : null}
              <WorkspaceState state={workspace.state} />
            </span>
          </li>
        ))}
      </ul>
      <MonthCost allLocal={workspaces.data.every((row) => row.provider === "local")} />
    </>
  );
}
