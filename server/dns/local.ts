import type { DnsProvider } from "./dns.ts";

// The one-machine DNS (SPEC §10): browsers resolve every `*.localhost` name to loopback on
// their own, so there is no record to write. The "hostname" carries the agent's loopback
// port; it is the part of a workspace URL after `http://`.

export function createLocalDns(): DnsProvider {
  return {
    upsertRecord: async ({ name, port }) => {
      if (!port) throw new Error(`Local DNS needs the agent's port for ${name}.`);
      return { hostname: `${name}.localhost:${port}` };
    },
    deleteRecord: async () => {},
  };
}
