import type { MetaFunction } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { AdminAuditSection } from "../components/admin-audit-section.tsx";
import { AdminJobsSection } from "../components/admin-jobs-section.tsx";
import { AdminQueueSection } from "../components/admin-queue-section.tsx";
import { AdminThroughputSection } from "../components/admin-throughput-section.tsx";
import { AdminUsersSection } from "../components/admin-users-section.tsx";
import { useCurrentUser } from "../lib/use-current-user.ts";

export const meta: MetaFunction = () => [{ title: "Admin · Cloud AI Workspaces" }];

/** The admin dashboard (SPEC §7, §11). The API refuses members too; this only explains. */
export default function Admin() {
  const user = useCurrentUser();
  if (user === undefined)
    return (
      <main className="page" aria-busy="true">
        Loading…
      </main>
    );
  if (user === null)
    return (
      <main className="page">
        <p>
          You are signed out. <Link to="/login">Sign in</Link> as an admin to see the dashboard.
        </p>
      </main>
    );
  if (user.role !== "admin")
    return (
      <main className="page">
        <h1>Admins only</h1>
        <p data-testid="admins-only">
          The dashboard is for admins of this install. Ask an admin if you need something here, or
          go back to <Link to="/">the start page</Link>.
        </p>
      </main>
    );
  return (
    <main className="page admin-page">
      <header className="page-header">
        <h1>Admin</h1>
        <p className="lead">The job queue, users and the audit log of this install.</p>
      </header>
      <div className="admin-grid">
        <AdminQueueSection />
        <AdminThroughputSection />
      </div>
      <AdminJobsSection />
      <AdminUsersSection />
      <AdminAuditSection />
    </main>
  );
}
