import type { MetaFunction } from "@remix-run/node";
import { Link, useParams } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { BootSteps } from "../components/boot-steps.tsx";
import { ErrorAlert } from "../components/error-alert.tsx";
import { LiveUpdates, useLive } from "../components/live-updates.tsx";
import { SignedInPage } from "../components/signed-in-page.tsx";
import { TerminalSessionsSection } from "../components/terminal-sessions-section.tsx";
import { AgentStatusBadge } from "../components/terminal-sessions-status.tsx";
import { WorkspaceActions } from "../components/workspace-actions.tsx";
import { WorkspaceCostFacts } from "../components/workspace-cost.tsx";
import { JobLog, Timeline, useHistoryFollowsState } from "../components/workspace-history.tsx";
import { pollWhileBusy, WorkspaceState } from "../components/workspace-state.tsx";
import { pollUnlessLive } from "../lib/live-updates.ts";
import { isNotFound, retryUnlessRefused } from "../lib/query-errors.ts";
import { useTRPC } from "../lib/trpc.ts";
import type { AppRouter } from "../../server/trpc/root.ts";

export const meta: MetaFunction = () => [{ title: "Workspace · Cloud AI Workspaces" }];

export default function WorkspacePage() {
  const { id = "" } = useParams();
  return (
    <SignedInPage what="see this workspace">
      {() => (
        <LiveUpdates>
          <WorkspaceDetail id={id} />
        </LiveUpdates>
      )}
    </SignedInPage>
  );
}

function WorkspaceDetail({ id }: { id: string }) {
  const trpc = useTRPC();
  const live = useLive();
  const workspace = useQuery({
    ...trpc.workspaces.get.queryOptions({ id }),
    retry: retryUnlessRefused,
    // Polling only while the push is down; while running, every 5 s too: the agent's coming
    // idle stop (idleStopAt) shows live. An id that is not (or no longer) ours: never again.
    refetchInterval: (query) =>
      isNotFound(query.state.error)
        ? false
        : pollUnlessLive(
            live,
            pollWhileBusy(query.state.data?.state) ||
              (query.state.data?.state === "running" ? 5_000 : false),
          ),
  });
  if (workspace.isPending) return <p aria-busy="true">Loading the workspace…</p>;
  if (isNotFound(workspace.error)) return <WorkspaceNotFound />;
  if (workspace.isError) return <ErrorAlert error={workspace.error} />;
  return <WorkspaceView id={id} data={workspace.data} />;
}

function WorkspaceNotFound() {
  return (
    <section className="card empty" data-testid="workspace-not-found">
      <h1>No such workspace</h1>
      <p>
        There is no workspace of yours at this address: it may have been deleted, or the link is
        mistyped.
      </p>
      <Link to="/workspaces" className="button primary">
        Back to your workspaces
      </Link>
    </section>
  );
}

type Workspace = inferRouterOutputs<AppRouter>["workspaces"]["get"];

function WorkspaceView({ id, data }: { id: string; data: Workspace }) {
  useHistoryFollowsState(id, data.state);
  return (
    <>
      <header className="page-header row">
        <h1>{data.name}</h1>
        <WorkspaceState state={data.state} />
        {data.state === "running" && data.idleStopAt ? (
          <AgentStatusBadge
            status="stopping"
            message={`at ${data.idleStopAt.toLocaleTimeString()}: type in a terminal, or run caw status working, to keep it running`}
          />
        ) : null}
      </header>
      <section className="card" aria-labelledby="facts-heading">
        <h2 id="facts-heading">Details</h2>
        <dl className="facts">
          <dt>Repository</dt>
          <dd>
            {data.repository} · {data.branch}
          </dd>
          <dt>Server</dt>
          <dd>
            {data.provider === "local"
              ? "this machine (one-machine mode)"
              : `${data.serverType} in ${data.location} (Hetzner)`}
          </dd>
          <WorkspaceCostFacts id={id} provider={data.provider} />
          <dt>Stops after</dt>
          <dd>{data.idleTimeoutMinutes} idle minutes</dd>
          {data.stateReason ? (
            <>
              <dt>Why</dt>
              <dd className={data.state === "error" ? "bad" : undefined} data-testid="state-reason">
                {data.stateReason}
              </dd>
            </>
          ) : null}
        </dl>
        <WorkspaceActions workspace={data} />
      </section>
      {data.state === "running" ? <TerminalSessionsSection workspaceId={id} /> : null}
      <BootSteps id={id} />
      <JobLog id={id} state={data.state} />
      <Timeline id={id} state={data.state} />
    </>
  );
}
