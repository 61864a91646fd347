import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import superjson from "superjson";
import type { AppRouter } from "../../server/trpc/root.ts";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export function createBrowserTrpcClient() {
  return createTRPCClient<AppRouter>({
    // The API refuses batches of more than API_MAX_BATCH_CALLS (20 by default).
    links: [httpBatchLink({ url: "/api/trpc", transformer: superjson, maxItems: 10 })],
  });
}
