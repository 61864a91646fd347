import type { MetaFunction } from "@remix-run/node";
import { ErrorPage } from "../components/error-page.tsx";

// Every address no other route matches (as in the Epic Stack): a 404 answered by a route, so it
// renders inside the app's own header and is not logged as an error with a stack.

export const meta: MetaFunction = () => [{ title: "Page not found · Cloud AI Workspaces" }];

export const loader = () => {
  throw new Response("Not found", { status: 404, statusText: "Not Found" });
};

export default function NotFound() {
  return <NotFoundPage />;
}

export function ErrorBoundary() {
  return <NotFoundPage />;
}

function NotFoundPage() {
  return (
    <ErrorPage
      status={404}
      title="Page not found"
      message="There is nothing at this address. It may have moved, or the link is mistyped."
    />
  );
}
