import type { MetaFunction } from "@remix-run/node";
import { useSearchParams } from "@remix-run/react";

export const meta: MetaFunction = () => [{ title: "Sign in · Cloud AI Workspaces" }];

export default function Login() {
  // Passed on as it came: /auth/github keeps it only if it is a path on this site.
  const redirectTo = useSearchParams()[0].get("redirectTo");
  const href = redirectTo
    ? `/auth/github?redirectTo=${encodeURIComponent(redirectTo)}`
    : "/auth/github";
  return (
    <main className="page narrow">
      <section className="card">
        <h1>Sign in</h1>
        <p>
          Cloud AI Workspaces uses your GitHub account: no passwords. We ask to read your profile,
          your email and your repositories, so workspaces can clone them.
        </p>
        {/* A plain link: the sign-in starts with a full page load and a redirect to GitHub. */}
        <a className="button primary" href={href}>
          Sign in with GitHub
        </a>
      </section>
    </main>
  );
}
