import { Form, Link, useRouteLoaderData } from "@remix-run/react";
import { useCurrentUser } from "../lib/use-current-user.ts";
import { SignInLink } from "./sign-in-link.tsx";

type RootData = { localDemo: boolean };

export function SiteHeader() {
  const user = useCurrentUser();
  return (
    <>
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
              <Link to="/settings" data-testid="current-user" className="user-link">
                {user.login}
              </Link>
              <Form method="post" action="/auth/logout" reloadDocument>
                <button type="submit" className="sign-out">
                  Sign out
                </button>
              </Form>
            </>
          ) : (
            <SignInLink />
          )}
        </nav>
      </header>
      <LocalDemoBanner />
    </>
  );
}

/** One-machine mode: GitHub is the stand-in on this machine, so anyone may sign in as anyone. */
export function LocalDemoBanner() {
  const root = useRouteLoaderData<RootData>("root");
  if (!root?.localDemo) return null;
  return (
    <p className="demo-banner" role="note" data-testid="local-demo-banner">
      <strong>Local demo:</strong> any GitHub login works here (GitHub is a stand-in on this
      machine; a login&apos;s first sign-in sets its password). Workspaces run on this computer.
    </p>
  );
}
