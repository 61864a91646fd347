import { z } from "zod";

// The agent's settings, read once from its environment (on a VM: the env file cloud-init
// writes, loaded by systemd; in the one-machine mode: set by the local provider). This is
// the only place in agent/ that reads process.env.

const configSchema = z.object({
  CONTROL_PLANE_URL: z.url({ protocol: /^https?$/, error: "expected the control plane's URL" }),
  WORKSPACE_ID: z.uuid({ error: "expected the workspace id" }),
  BOOTSTRAP_TOKEN: z.string().min(1, { error: "expected the one-time bootstrap token" }),
  AGENT_HOST: z.string().min(1).default("0.0.0.0"),
  AGENT_PORT: z
    .string()
    .regex(/^\d+$/, { error: "expected a port number" })
    .transform(Number)
    .default(80),
  WORKSPACE_DIR: z.string().min(1).default("/workspace"),
  /** Where the agent keeps its token and cookie secret (mode 0700). */
  STATE_DIR: z.string().min(1).default("/var/lib/cloud-ai-workspaces-agent"),
  /** Overrides the workspace's idle timeout; for tests and demos only. */
  AGENT_IDLE_TIMEOUT_SECONDS: z
    .string()
    .regex(/^\d+$/, { error: "expected whole seconds" })
    .transform(Number)
    .optional(),
  /** Overrides the heartbeat interval (60 s); for tests only. */
  AGENT_HEARTBEAT_SECONDS: z
    .string()
    .regex(/^[1-9]\d*$/, { error: "expected whole seconds, at least 1" })
    .transform(Number)
    .optional(),
});

export type AgentConfig = z.output<typeof configSchema>;

export function readAgentConfig(
  source: Record<string, string | undefined> = process.env,
): AgentConfig {
  const result = configSchema.safeParse(source);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  throw new Error(`Invalid agent settings:\n  - ${problems.join("\n  - ")}`);
}

/** The environment for shells and git: the agent's own, without the agent's settings. */
export function childEnvironment(): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(configSchema.shape)) delete environment[name];
  return environment;
}
