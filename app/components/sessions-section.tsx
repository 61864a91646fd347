import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTRPC } from "../lib/trpc.ts";
import { ErrorAlert } from "./error-alert.tsx";

/** Where you are signed in, with a way to sign out anywhere but here (the header does that). */
export function SessionsSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.auth.sessions.list.queryOptions());
  const revoke = useMutation(
    trpc.auth.sessions.revoke.mutationOptions({
      onSuccess: () =>
        queryClient.invalidateQueries({ queryKey: trpc.auth.sessions.list.queryKey() }),
    }),
  );
  // Ends this browser's session too (and, within a heartbeat, every terminal it opened).
  const revokeAll = useMutation(
    trpc.auth.sessions.revokeAll.mutationOptions({
      onSuccess: () => window.location.assign("/login"),
    }),
  );

  return (
    <section className="card" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Sessions</h2>
      <p className="hint">Browsers signed in to your account. Sign out any you do not recognise.</p>
      <ErrorAlert error={sessions.error ?? revoke.error ?? revokeAll.error} />
      <ul className="row-list" aria-busy={sessions.isPending}>
        {sessions.data?.map((session) => (
          <li key={session.id} data-testid="session-row">
            <span>
              <strong>{session.userAgent ?? "Unknown browser"}</strong>{" "}
              {session.current ? <em>this browser</em> : null}{" "}
              <span>until {session.expiresAt.toLocaleString()}</span>
            </span>
            {session.current ? null : (
              <button
                type="button"
                onClick={() => revoke.mutate({ id: session.id })}
                disabled={revoke.isPending}
              >
                Sign out
              </button>
            )}
          </li>
        ))}
      </ul>
      <button
        type="button"
        className="danger"
        onClick={() => revokeAll.mutate()}
        disabled={revokeAll.isPending}
      >
        Sign out everywhere
      </button>
    </section>
  );
}
