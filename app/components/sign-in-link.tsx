import { Link, useLocation } from "@remix-run/react";
import type { ReactNode } from "react";

/**
 * A link to the sign-in page that remembers where the user is, so sign-in comes back here.
 * The server accepts only a path on this site as the destination (server/auth/safe-redirect.ts).
 */
export function SignInLink({ children = "Sign in" }: { children?: ReactNode }) {
  const { pathname, search, hash } = useLocation();
  const here = `${pathname}${search}${hash}`;
  // On the sign-in page itself, the destination it already carries stays.
  const to =
    pathname === "/login"
      ? `/login${search}`
      : pathname === "/"
        ? "/login"
        : `/login?redirectTo=${encodeURIComponent(here)}`;
  return <Link to={to}>{children}</Link>;
}
