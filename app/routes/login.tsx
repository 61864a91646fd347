import type { MetaFunction } from "@remix-run/node";

export const meta: MetaFunction = () => [{ title: "Sign in · Cloud AI Workspaces" }];

export default function Login() {
  return (
    <main className="page narrow">
      <section className="card">
        <h1>Sign in</h1>
        <p>
          Cloud AI Workspaces uses your GitHub account: no passwords. We ask to read your profile,
          your email and your repositories, so workspaces can clone them.
        </p>
        {/* A plain link: the sign-in starts with a full page load and a redirect to GitHub. */}
        <a className="button primary" href="/auth/github">
          Sign in with GitHub
        </a>
      </section>
    </main>
  );
}
