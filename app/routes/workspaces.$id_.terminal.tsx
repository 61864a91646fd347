import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData, useRevalidator } from "@remix-run/react";
import { useMutation } from "@tanstack/react-query";
import { useEffect } from "react";
import { ErrorAlert } from "../components/error-alert.tsx";
import { WorkspaceState } from "../components/workspace-state.tsx";
import { openCurrentTerminal } from "../lib/terminal-launcher.server.ts";
import { useTRPC } from "../lib/trpc.ts";

// `/workspaces/:id/terminal?session=<name>`: to the workspace's current agent, or what it is
// doing until it has one (ADR 0022). Not nested in the workspace page: it is mostly a redirect.

export const meta: MetaFunction = () => [{ title: "Terminal · Cloud AI Workspaces" }];

export const loader = ({ context, request, params }: LoaderFunctionArgs) =>
  openCurrentTerminal(context, request, params.id ?? "");

// Between states the loader is asked again; once the workspace runs it answers the redirect.
const settlingStates = ["pending", "provisioning", "booting", "starting", "stopping"];

export default function TerminalLauncher() {
  const view = useLoaderData<typeof loader>();
  if (view.kind === "signed-out")
    return (
      <main className="page narrow">
        <section className="card">
          <h1>Sign in to open the terminal</h1>
          <a className="button primary" href="/auth/github">
            Sign in with GitHub
          </a>
        </section>
      </main>
    );
  if (view.kind === "not-found")
    return (
      <main className="page narrow">
        <section className="card">
          <h1>No such workspace</h1>
          <p>It was deleted, or it is not yours.</p>
          <a href="/workspaces">Your workspaces</a>
        </section>
      </main>
    );
  return <Waiting view={view} />;
}

function Waiting({
  view,
}: {
  view: Extract<ReturnType<typeof useLoaderData<typeof loader>>, { kind: "waiting" }>;
}) {
  const trpc = useTRPC();
  const revalidator = useRevalidator();
  const start = useMutation(
    trpc.workspaces.start.mutationOptions({ onSuccess: () => revalidator.revalidate() }),
  );
  const settling = settlingStates.includes(view.state);
  useEffect(() => {
    if (!settling) return;
    const timer = setInterval(() => revalidator.revalidate(), 1500);
    return () => clearInterval(timer);
  }, [settling, revalidator]);
  return (
    <main className="page narrow">
      <section className="card" data-testid="terminal-launcher" data-state={view.state}>
        <h1>
          {view.name} <WorkspaceState state={view.state} />
        </h1>
        {view.reason ? <p>{view.reason}</p> : null}
        <p>
          {settling
            ? "The terminal opens as soon as the workspace is running."
            : "The terminal opens once the workspace is running."}
        </p>
        <div className="actions">
          {["stopped", "error"].includes(view.state) ? (
            <button
              type="button"
              className="primary"
              disabled={start.isPending}
              onClick={() => start.mutate({ id: view.id })}
            >
              Start
            </button>
          ) : null}
          <a href={`/workspaces/${view.id}`}>Workspace page</a>
        </div>
        <ErrorAlert error={start.error} />
      </section>
    </main>
  );
}
