import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import {
  isRouteErrorResponse,
  Link,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  useRouteError,
} from "@remix-run/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { BrowserNotifications } from "./components/browser-notifications.tsx";
import { ErrorPage } from "./components/error-page.tsx";
import { LocalDemoBanner, SiteHeader } from "./components/site-header.tsx";
import { isLocalDemo } from "./lib/auth.server.ts";
import { useNonce } from "./lib/nonce.ts";
import { createBrowserTrpcClient, TRPCProvider } from "./lib/trpc.ts";
import stylesHref from "./styles.css";

export const links: LinksFunction = () => [
  { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" },
  { rel: "stylesheet", href: stylesHref },
];

export const meta: MetaFunction = () => [
  { title: "Cloud AI Workspaces" },
  { name: "description", content: "Cloud coding workspaces on your own Hetzner account." },
];

/** What every page needs from the server before anything else: the mode of this install. */
export const loader = ({ context }: LoaderFunctionArgs) => ({ localDemo: isLocalDemo(context) });

// The mode does not change while the page is open: no need to ask again after each action.
export const shouldRevalidate = () => false;

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  const [queryClient] = useState(
    () => new QueryClient({ defaultOptions: { queries: { staleTime: 5_000, retry: 1 } } }),
  );
  const [trpcClient] = useState(createBrowserTrpcClient);
  // Until React has hydrated, a form's button submits natively and what was typed is lost:
  // the mark tells tests (and scripts driving the page) when it is safe to act.
  useEffect(() => {
    document.documentElement.dataset.hydrated = "true";
  }, []);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <SiteHeader />
        <Outlet />
        <BrowserNotifications />
      </TRPCProvider>
    </QueryClientProvider>
  );
}

/**
 * Whatever no route handled: the page still looks like ours and offers a way home. It renders
 * without the app's data layer (that may be what failed), so the header is the brand only.
 */
export function ErrorBoundary() {
  const error = useRouteError();
  useEffect(() => {
    document.documentElement.dataset.hydrated = "true";
  }, []);
  return (
    <>
      <header className="site-header">
        <Link to="/" className="brand" reloadDocument>
          Cloud AI Workspaces
        </Link>
      </header>
      <LocalDemoBanner />
      {isRouteErrorResponse(error) ? (
        <ErrorPage
          status={error.status}
          title={error.status === 404 ? "Page not found" : `${error.status} ${error.statusText}`}
          message={
            error.status === 404
              ? "There is nothing at this address. It may have moved, or the link is mistyped."
              : "The server could not answer this request as it was made."
          }
        />
      ) : (
        <ErrorPage
          status={500}
          title="Something went wrong"
          message="This page failed to load. Try again; if it keeps failing, the server's log has the details."
        />
      )}
    </>
  );
}
