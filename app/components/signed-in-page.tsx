import type { ReactNode } from "react";
import { useCurrentUser } from "../lib/use-current-user.ts";
import { SignInLink } from "./sign-in-link.tsx";

type User = NonNullable<ReturnType<typeof useCurrentUser>>;

/** A page for signed-in users: loading while we ask, a way to sign in when signed out. */
export function SignedInPage({
  what,
  className = "page",
  children,
}: {
  /** What the page is for, e.g. "manage your settings". */
  what: string;
  className?: string;
  children: (user: User) => ReactNode;
}) {
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
          You are signed out. <SignInLink /> to {what}.
        </p>
      </main>
    );
  return <main className={className}>{children(user)}</main>;
}
