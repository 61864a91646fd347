import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import {
  actionSchema,
  createHetznerApi,
  defaultHetznerTiming,
  HetznerApiError,
  toLabelSelector,
  type HetznerApi,
  type HetznerTiming,
} from "./hetzner-api.ts";
import { hasLabels, installLabels, type Labels } from "./provider.ts";

// Our Hetzner Cloud Firewall (SPEC §9): one per install in each user's Hetzner project, found
// by this install's labels and applied by label selector, so Hetzner puts it on every
// workspace server of ours as it creates it, and on the ones made before it existed.
//
// Its only rules let TCP 443 in from Cloudflare's published ranges. Hetzner's OpenAPI
// description (tag "Firewalls") says "The default for `in` is `DROP`": once the firewall
// applies, every inbound packet no rule allows is dropped, so SSH, any other port, ICMP and
// every address outside Cloudflare are closed. There is no `out` rule, and "the default for
// `out` is `ACCEPT`": apt, the agent download and git keep working.

export const firewallPort = "443";
const ruleDescription = "HTTPS from Cloudflare only (cloud-ai-workspaces)";
/** Hetzner's description: "You can specify 100 CIDRs at most" per rule. */
const maxCidrsPerRule = 100;

export const firewallNameOf = (installId: string) => `cloud-ai-workspaces-${installId}`;

const ruleSchema = z.object({
  direction: z.enum(["in", "out"]),
  protocol: z.string(),
  port: z.string().nullish(),
  source_ips: z.array(z.string()).nullish(),
  destination_ips: z.array(z.string()).nullish(),
});
type HetznerFirewallRule = z.infer<typeof ruleSchema>;

const firewallSchema = z.object({
  id: z.number(),
  name: z.string(),
  labels: z.record(z.string(), z.string()).nullish(),
  rules: z.array(ruleSchema),
  applied_to: z.array(
    z.object({
      type: z.string(),
      label_selector: z.object({ selector: z.string() }).nullish(),
    }),
  ),
});
type HetznerFirewall = z.infer<typeof firewallSchema>;

const createdFirewallSchema = z.object({
  firewall: firewallSchema,
  actions: z.array(actionSchema).optional(),
});
const actionsAnswerSchema = z.object({ actions: z.array(actionSchema) });

export type FirewallRule = {
  direction: "in";
  protocol: "tcp";
  port: string;
  source_ips: string[];
  description: string;
};

/** Inbound TCP 443 from these CIDRs and nothing else, in as few rules as Hetzner allows. */
export function firewallRulesFor(sourceIps: string[]): FirewallRule[] {
  if (sourceIps.length === 0)
    throw new Error("Refusing to write a firewall rule without source addresses.");
  const rules: FirewallRule[] = [];
  for (let start = 0; start < sourceIps.length; start += maxCidrsPerRule)
    rules.push({
      direction: "in",
      protocol: "tcp",
      port: firewallPort,
      source_ips: sourceIps.slice(start, start + maxCidrsPerRule),
      description: ruleDescription,
    });
  return rules;
}

/** Rules compared by what they let through: order of rules and addresses does not matter. */
function sameRules(current: HetznerFirewallRule[], wanted: FirewallRule[]): boolean {
  const keyOf = (rule: HetznerFirewallRule) =>
    JSON.stringify([
      rule.direction,
      rule.protocol,
      rule.port ?? null,
      [...(rule.source_ips ?? [])].sort(),
      [...(rule.destination_ips ?? [])].sort(),
    ]);
  const keys = (rules: HetznerFirewallRule[]) => rules.map(keyOf).sort().join("\n");
  return keys(current) === keys(wanted);
}

export type HetznerFirewalls = {
  /** The labels a server must carry for our firewall's selector to apply to it. */
  serverLabels: Labels;
  /**
   * Finds our firewall, or creates it with rules for `readSourceIps()` (asked only then), and
   * makes sure it still applies to our servers' label selector.
   */
  ensure: (readSourceIps: () => Promise<string[]>) => Promise<{ id: number; created: boolean }>;
  /** Writes the rules for `sourceIps` when they differ; "absent" when the project has none. */
  syncRules: (sourceIps: string[]) => Promise<"updated" | "unchanged" | "absent">;
};

export function createHetznerFirewalls(api: HetznerApi, installId: string): HetznerFirewalls {
  const labels = installLabels(installId);
  const selector = toLabelSelector(labels)!;
  const name = firewallNameOf(installId);
  const selectorTarget = { type: "label_selector", label_selector: { selector } };

  async function findOurs(): Promise<HetznerFirewall | undefined> {
    const query = { label_selector: selector };
    const found = await api.listAll("/firewalls", "firewalls", firewallSchema, query);
    return found.find((firewall) => firewall.name === name) ?? found[0];
  }

  /** Names are unique per project, so of two workers creating at once one gets 409 and adopts. */
  async function createOurs(sourceIps: string[]): Promise<HetznerFirewall> {
    const answer = await api.request("POST", "/firewalls", createdFirewallSchema, {
      body: { name, labels, rules: firewallRulesFor(sourceIps), apply_to: [selectorTarget] },
      recover: async () => {
        const [existing] = await api.listAll("/firewalls", "firewalls", firewallSchema, { name });
        if (!existing) return undefined;
        if (!hasLabels(existing.labels ?? {}, labels))
          throw new AppError(
            "CONFLICT",
            `A firewall named ${name} already exists in this Hetzner project but does not carry the labels ${selector}. Delete it in the Hetzner Console (Firewalls) or give it those labels back, then try again.`,
          );
        return { firewall: existing, actions: [] };
      },
    });
    await api.waitForActions(answer.actions ?? []);
    return answer.firewall;
  }

  async function applyToOurServers(id: number): Promise<void> {
    const path = `/firewalls/${id}/actions/apply_to_resources`;
    try {
      const answer = await api.request("POST", path, actionsAnswerSchema, {
        body: { apply_to: [selectorTarget] },
      });
      await api.waitForActions(answer.actions);
    } catch (error) {
      // Another worker put the selector back a moment ago: what we wanted.
      if (!(error instanceof HetznerApiError && error.code === "firewall_already_applied"))
        throw error;
    }
  }

  return {
    serverLabels: labels,
    ensure: async (readSourceIps) => {
      const existing = await findOurs();
      const firewall = existing ?? (await createOurs(await readSourceIps()));
      const applied = firewall.applied_to.some(
        (target) =>
          target.type === "label_selector" && target.label_selector?.selector === selector,
      );
      // Someone removed the selector in the Console: our servers would be open.
      if (!applied) await applyToOurServers(firewall.id);
      return { id: firewall.id, created: !existing };
    },
    syncRules: async (sourceIps) => {
      const firewall = await findOurs();
      if (!firewall) return "absent";
      const rules = firewallRulesFor(sourceIps);
      if (sameRules(firewall.rules, rules)) return "unchanged";
      const path = `/firewalls/${firewall.id}/actions/set_rules`;
      const answer = await api.request("POST", path, actionsAnswerSchema, { body: { rules } });
      await api.waitForActions(answer.actions);
      return "updated";
    },
  };
}

/** Our firewall in the project of `token`, for the job that refreshes every project's rules. */
export function createHetznerFirewallClient(options: {
  token: string;
  apiUrl: string;
  installId: string;
  logger?: Logger;
  timing?: Partial<HetznerTiming>;
  /** The job's signal: aborts every request in flight, retry wait and action poll. */
  signal?: AbortSignal;
  observe?: OutboundRequestObserver;
}): HetznerFirewalls {
  const api = createHetznerApi({
    token: options.token,
    apiUrl: options.apiUrl,
    logger: options.logger,
    timing: { ...defaultHetznerTiming, ...options.timing },
    signal: options.signal,
    observe: options.observe,
  });
  return createHetznerFirewalls(api, options.installId);
}
