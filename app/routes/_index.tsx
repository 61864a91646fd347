import { Link } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";
import { useCurrentUser } from "../lib/use-current-user.ts";

export default function Home() {
  return (
    <main className="page">
      <header className="page-header">
        <h1>Cloud AI Workspaces</h1>
        <p className="lead">
          Cloud coding workspaces for you and your AI agents, on your own Hetzner account.
        </p>
      </header>
      <StartHere />
      <SystemInfoCard />
    </main>
  );
}

function StartHere() {
  const user = useCurrentUser();
  if (user === undefined) return null;
  return (
    <p>
      {user ? (
        <Link to="/workspaces" className="button primary">
          Your workspaces
        </Link>
      ) : (
        <Link to="/login" className="button primary">
          Sign in with GitHub to start
        </Link>
      )}
    </p>
  );
}

function SystemInfoCard() {
  const trpc = useTRPC();
  const info = useQuery(trpc.system.info.queryOptions());
  if (info.isPending) {
    return (
      <section className="card" aria-busy="true" data-testid="system-info" data-status="loading">
        Checking the control plane…
      </section>
    );
  }
  if (info.isError) {
    return (
      <section
        className="card card-error"
        role="alert"
        data-testid="system-info"
        data-status="error"
      >
        <h2>The control plane did not answer</h2>
        <p>{info.error.message}</p>
        <button type="button" onClick={() => info.refetch()}>
          Try again
        </button>
      </section>
    );
  }
  const { data } = info;
  const healthy = data.database.status === "ok";
  return (
    <section className="card" data-testid="system-info" data-status="ready">
      <h2>Control plane</h2>
      <dl className="facts">
        <dt>Version</dt>
        <dd data-testid="system-version">{data.version}</dd>
        <dt>Database</dt>
        <dd data-testid="database-status" className={healthy ? "ok" : "bad"}>
          {data.database.status}
        </dd>
        {data.installedAt ? (
          <>
            <dt>Installed</dt>
            <dd>{data.installedAt.toISOString().slice(0, 10)}</dd>
          </>
        ) : null}
      </dl>
      {healthy ? null : <p className="hint">{data.database.detail}</p>}
    </section>
  );
}
