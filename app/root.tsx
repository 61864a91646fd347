import type { LinksFunction, MetaFunction } from "@remix-run/node";
import { Links, Meta, Outlet, Scripts, ScrollRestoration } from "@remix-run/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { BrowserNotifications } from "./components/browser-notifications.tsx";
import { SiteHeader } from "./components/site-header.tsx";
import { useNonce } from "./lib/nonce.ts";
import { createBrowserTrpcClient, TRPCProvider } from "./lib/trpc.ts";
import stylesHref from "./styles.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: stylesHref }];

export const meta: MetaFunction = () => [
  { title: "Cloud AI Workspaces" },
  { name: "description", content: "Cloud coding workspaces on your own Hetzner account." },
];

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
