import type { MetaFunction } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { ApiTokensSection } from "../components/api-tokens-section.tsx";
import { DeleteAccountSection } from "../components/delete-account-section.tsx";
import { SessionsSection } from "../components/sessions-section.tsx";
import { useCurrentUser } from "../lib/use-current-user.ts";

export const meta: MetaFunction = () => [{ title: "Settings · Cloud AI Workspaces" }];

export default function Settings() {
  const user = useCurrentUser();
  if (user === undefined)
    return (
      <main className="page" aria-busy="true">
        Loading…
      </main>
    );
  if (user === null) {
    return (
      <main className="page">
        <p>
          You are signed out. <Link to="/login">Sign in</Link> to manage your settings.
        </p>
      </main>
    );
  }
  return (
    <main className="page">
      <h1>Settings</h1>
      <ApiTokensSection />
      <SessionsSection />
      <DeleteAccountSection login={user.login} />
    </main>
  );
}
