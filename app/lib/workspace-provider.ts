import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "./trpc.ts";

/**
 * Where this install's workspaces run (`system.info`): "local" in the one-machine mode, where
 * Hetzner's types, locations, prices and token mean nothing. Undefined while it loads.
 */
export function useWorkspaceProvider(): "local" | "hetzner" | undefined {
  const trpc = useTRPC();
  const info = useQuery(trpc.system.info.queryOptions());
  return info.data?.workspaces.provider;
}
