import type { MetaFunction } from "@remix-run/node";
import { useParams } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { BootSteps } from "../components/boot-steps.tsx";
import { ErrorAlert } from "../components/error-alert.tsx";
import { SignedInPage } from "../components/signed-in-page.tsx";
import { TerminalSessionsSection } from "../components/terminal-sessions-section.tsx";
import { AgentStatusBadge } from "../components/terminal-sessions-status.tsx";
import { WorkspaceActions } from "../components/workspace-actions.tsx";
import { WorkspaceCostFacts } from "../components/workspace-cost.tsx";
import { pollWhileBusy, WorkspaceState } from "../components/workspace-state.tsx";
import { useTRPC } from "../lib/trpc.ts";

export const meta: MetaFunction = () => [{ title: "Workspace · Cloud AI Workspaces" }];

export default function WorkspacePage() {
  const { id = "" } = useParams();
  return <SignedInPage what="see this workspace">{() => <WorkspaceDetail id={id} />}</SignedInPage>;
}

function WorkspaceDetail({ id }: { id: string }) {
  const trpc = useTRPC();
  const workspace = useQuery({
    ...trpc.workspaces.get.queryOptions({ id }),
    // While running, every 5 s too: the agent's coming idle stop (idleStopAt) shows live.
    refetchInterval: (query) =>
      pollWhileBusy(query.state.data?.state) ||
      (query.state.data?.state === "running" ? 5_000 : false),
  });
  if (workspace.isPending) return <p aria-busy="true">Loading the workspace…</p>;
  if (workspace.isError) return <ErrorAlert error={workspace.error} />;
  const { data } = workspace;
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
            {data.serverType} in {data.location} ({data.provider})
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

function JobLog({ id, state }: { id: string; state: string }) {
  const trpc = useTRPC();
  const log = useQuery({
    ...trpc.workspaces.jobLog.queryOptions({ id }),
    refetchInterval: (query) =>
      pollWhileBusy(state) || (query.state.data?.status === "running" ? 2_000 : false),
  });
  if (!log.data) return <ErrorAlert error={log.error} />;
  const { data } = log;
  return (
    <section className="card" aria-labelledby="job-heading">
      <h2 id="job-heading">
        Latest job: {data.kind} ({data.status}, attempt {data.attempts} of {data.maxAttempts})
      </h2>
      {data.lastError ? <p className="bad">{data.lastError}</p> : null}
      <ol className="log" aria-live="polite" data-testid="job-log">
        {data.lines.map((line) => (
          <li key={line.id} className={`log-${line.level}`}>
            <time>{line.occurredAt.toLocaleTimeString()}</time> {line.message}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Timeline({ id, state }: { id: string; state: string }) {
  const trpc = useTRPC();
  const events = useQuery({
    ...trpc.workspaces.events.queryOptions({ id }),
    refetchInterval: pollWhileBusy(state),
  });
  return (
    <section className="card" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline</h2>
      <ErrorAlert error={events.error} />
      <ol className="timeline" data-testid="timeline">
        {events.data?.map((event) => (
          <li key={event.id}>
            <time>{event.occurredAt.toLocaleString()}</time> <strong>{event.toState}</strong> —{" "}
            {event.reason} <span className="hint">({event.actor})</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
