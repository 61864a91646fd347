import type { MetaFunction } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { AdminAuditSection } from "../components/admin-audit-section.tsx";
import { AdminJobsSection } from "../components/admin-jobs-section.tsx";
import { AdminQueueSection } from "../components/admin-queue-section.tsx";
import { AdminThroughputSection } from "../components/admin-throughput-section.tsx";
import { AdminUsersSection } from "../components/admin-users-section.tsx";
import { SignedInPage } from "../components/signed-in-page.tsx";

export const meta: MetaFunction = () => [{ title: "Admin · Cloud AI Workspaces" }];

/** The admin dashboard (SPEC §7, §11). The API refuses members too; this only explains. */
export default function Admin() {
  return (
    <SignedInPage what="see the dashboard as an admin" className="page admin-page">
      {(user) =>
        user.role === "admin" ? (
          <>
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
          </>
        ) : (
          <>
            <h1>Admins only</h1>
            <p data-testid="admins-only">
              The dashboard is for admins of this install. Ask an admin if you need something here,
              or go back to <Link to="/">the start page</Link>.
            </p>
          </>
        )
      }
    </SignedInPage>
  );
}
