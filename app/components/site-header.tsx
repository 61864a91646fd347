import { Form, Link } from "@remix-run/react";
import { useCurrentUser } from "../lib/use-current-user.ts";

export function SiteHeader() {
  const user = useCurrentUser();
  return (
    <header className="site-header">
      <Link to="/" className="brand">
        Cloud AI Workspaces
      </Link>
      <nav aria-label="Account">
        {user === undefined ? null : user ? (
          <>
            <Link to="/workspaces">Workspaces</Link>
            {user.role === "admin" ? (
              <Link to="/admin" data-testid="admin-link">
                Admin
              </Link>
            ) : null}
            <Link to="/settings" data-testid="current-user">
              {user.login}
            </Link>
            <Form method="post" action="/auth/logout" reloadDocument>
              <button type="submit">Sign out</button>
            </Form>
          </>
        ) : (
          <Link to="/login">Sign in</Link>
        )}
      </nav>
    </header>
  );
}
