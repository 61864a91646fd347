import { Link } from "@remix-run/react";

/** A styled error page: what happened, in words, and the way back to the start page. */
export function ErrorPage({
  status,
  title,
  message,
}: {
  status: number;
  title: string;
  message: string;
}) {
  return (
    <main className="page narrow error-page" data-testid="error-page" data-status={status}>
      <section className="card">
        <p className="error-status" aria-hidden="true">
          {status}
        </p>
        <h1>{title}</h1>
        <p>{message}</p>
        <p className="actions">
          <Link to="/" className="button primary" reloadDocument>
            Go to the start page
          </Link>
          <Link to="/workspaces" className="button" reloadDocument>
            Your workspaces
          </Link>
        </p>
      </section>
    </main>
  );
}
