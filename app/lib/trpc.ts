import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import superjson from "superjson";
import type { AppRouter } from "../../server/trpc/root.ts";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export function createBrowserTrpcClient() {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        // Subscriptions (live.updates) are one long SSE request each (ADR 0021).
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({ url: "/api/trpc", transformer: superjson }),
        // The API refuses batches of more than API_MAX_BATCH_CALLS (20 by default).
        false: httpBatchLink({ url: "/api/trpc", transformer: superjson, maxItems: 10 }),
      }),
    ],
  });
}
