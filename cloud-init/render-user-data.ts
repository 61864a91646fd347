import { z } from "zod";
import {
  bootstrapServiceName,
  bootstrapServicePath,
  bootstrapServiceUnit,
  agentServicePath,
  agentServiceUnit,
  bootstrapScript,
  bootstrapScriptPath,
  envFilePath,
  workspaceUser,
} from "./bootstrap-script.ts";
import {
  toolchainScript,
  toolchainScriptPath,
  toolchainServiceName,
  toolchainServicePath,
  toolchainServiceUnit,
} from "./toolchain-script.ts";

/** Hetzner refuses user data larger than 32 KiB. */
export const maxUserDataBytes = 32 * 1024;

// Free text (repository, branch) may be any Unicode a git ref allows, but no control, format,
// surrogate or line/paragraph separator characters: YAML would break lines at or reject those,
// and the env file holds one value per line.
const printableText = /^[^\p{C}\p{Zl}\p{Zp}]+$/u;
const printableError = "must be non-empty printable text without control characters";

const controlPlaneUrlSchema = z.string({ error: "must be a string" }).refine(isBaseUrl, {
  error:
    "must be a normalized http(s) URL without a trailing slash, credentials, query or fragment",
});

const userDataInputSchema = z
  .object({
    workspaceId: z.uuid({ error: "must be a UUID" }),
    controlPlaneUrl: controlPlaneUrlSchema,
    agentDownloadUrl: z.string({ error: "must be a string" }),
    agentSha256: z
      .string({ error: "must be a string" })
      .regex(/^[0-9a-f]{64}$/, { error: "must be 64 lowercase hex digits" }),
    agentVersion: z
      .string({ error: "must be a string" })
      .regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/, {
        error: "must be a version such as 1.2.3 (letters, digits, . + _ -)",
      }),
    bootstrapToken: z.string({ error: "must be a string" }).regex(/^[A-Za-z0-9_-]{16,512}$/, {
      error: "must be 16 to 512 URL-safe characters (A-Z a-z 0-9 _ -)",
    }),
    volumeId: z
      .string({ error: "must be a string" })
      .regex(/^[1-9][0-9]{0,19}$/, { error: "must be a numeric Hetzner volume id" })
      .optional(),
    repository: z
      .string({ error: "must be a string" })
      .max(512, { error: "must be at most 512 characters" })
      .regex(printableText, { error: printableError }),
    branch: z
      .string({ error: "must be a string" })
      .max(255, { error: "must be at most 255 characters" })
      .regex(printableText, { error: printableError }),
    /** `origin-ca`: the agent serves HTTPS on 443 with a Cloudflare Origin CA certificate. */
    agentTls: z.enum(["origin-ca", "off"], { error: "must be origin-ca or off" }),
    /** SHA-256 of the toolchain archive (ADR 0011); empty when the control plane has none. */
    toolchainSha256: z
      .union([z.literal(""), z.string().regex(/^[0-9a-f]{64}$/)], {
        error: "must be 64 lowercase hex digits or empty",
      })
      .default(""),
    idleTimeoutMinutes: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(5, { error: "must be at least 5" })
      .max(240, { error: "must be at most 240" }),
  })
  .refine(hasAgentDownloadUrl, {
    // Only once both URLs are valid on their own, so one bad base URL reports one problem.
    when: (payload) => payload.issues.length === 0,
    path: ["agentDownloadUrl"],
    error: "must be {controlPlaneUrl}/agent/download?arch=amd64 or ?arch=arm64",
  });

export type UserDataInput = z.input<typeof userDataInputSchema>;

/**
 * Renders the `#cloud-config` user data that turns a fresh server into a workspace (SPEC §9).
 * Pure and deterministic. Throws an Error naming every invalid field, or when the result would
 * exceed Hetzner's limit.
 */
export function renderUserData(input: UserDataInput): string {
  const parsed = userDataInputSchema.safeParse(input);
  if (!parsed.success) {
    // Issue messages never echo the value: bootstrapToken is a secret.
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join(".") || "input"}: ${issue.message}`,
    );
    throw new Error(`Invalid user data input: ${problems.join("; ")}`);
  }
  const text = renderCloudConfig(parsed.data);
  assertUserDataSize(text);
  return text;
}

/** Throws when `text` is over {@link maxUserDataBytes} as UTF-8. */
export function assertUserDataSize(text: string): void {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > maxUserDataBytes) {
    throw new Error(
      `User data is ${bytes} bytes but Hetzner accepts at most ${maxUserDataBytes}; ` +
        "shorten the rendered input (repository, branch) or move content out of cloud-init.",
    );
  }
}

function renderCloudConfig(input: UserDataInput): string {
  return [
    "#cloud-config",
    `# Cloud AI Workspaces workspace ${input.workspaceId}; see ${bootstrapScriptPath}.`,
    // No package_update or packages: they run before runcmd and held the agent back for
    // minutes. The image brings curl and git; the toolchain unit adds the rest later.
    // No password logins (the firewall lets nothing but 443 in anyway).
    "ssh_pwauth: false",
    "write_files:",
    ...renderWriteFile(envFilePath, "0600", renderBlock(renderEnvFile(input))),
    ...renderWriteFile(bootstrapScriptPath, "0755", renderBlock(bootstrapScript)),
    ...renderWriteFile(agentServicePath, "0644", renderBlock(agentServiceUnit)),
    ...renderWriteFile(bootstrapServicePath, "0644", renderBlock(bootstrapServiceUnit)),
    ...renderWriteFile(toolchainScriptPath, "0755", renderBlock(toolchainScript)),
    ...renderWriteFile(toolchainServicePath, "0644", renderBlock(toolchainServiceUnit)),
    // The bootstrap unit runs the script now and on every later boot; it starts the agent
    // only when every step before succeeded, so an unverified agent never runs. `start`
    // waits for the oneshot, so a failed bootstrap fails cloud-init too.
    "runcmd:",
    // cloud-init joins runcmd into one /bin/sh script without -e: stop at a failed bootstrap,
    // so that cloud-init reports it too.
    "  - set -e",
    '  - ["systemctl", "daemon-reload"]',
    `  - ["systemctl", "enable", ${quoteYaml(bootstrapServiceName)}]`,
    `  - ["systemctl", "start", ${quoteYaml(bootstrapServiceName)}]`,
    // The toolchain installs in the background, after the terminal works: never waited for.
    `  - ["systemctl", "enable", ${quoteYaml(toolchainServiceName)}]`,
    `  - ["systemctl", "start", "--no-block", ${quoteYaml(toolchainServiceName)}]`,
    "",
  ].join("\n");
}

function renderWriteFile(path: string, permissions: string, content: string): string[] {
  return [
    `  - path: ${quoteYaml(path)}`,
    '    owner: "root:root"',
    `    permissions: ${quoteYaml(permissions)}`,
    `    content: ${content}`,
  ];
}

// One KEY="value" per line, quoted the way bash and systemd's EnvironmentFile= both read
// literally: inside double quotes each of them unescapes exactly \" \\ \` \$.
function renderEnvFile(input: UserDataInput): string {
  const entries: [string, string][] = [
    ["CONTROL_PLANE_URL", input.controlPlaneUrl],
    ["WORKSPACE_ID", input.workspaceId],
    ["BOOTSTRAP_TOKEN", input.bootstrapToken],
    ["AGENT_VERSION", input.agentVersion],
    ["AGENT_DOWNLOAD_URL", input.agentDownloadUrl],
    ["AGENT_SHA256", input.agentSha256],
    ["VOLUME_ID", input.volumeId ?? ""],
    ["REPOSITORY", input.repository],
    ["BRANCH", input.branch],
    ["IDLE_TIMEOUT_MINUTES", String(input.idleTimeoutMinutes)],
    ["WORKSPACE_USER", workspaceUser],
    ["AGENT_TLS", input.agentTls],
    ["AGENT_PORT", input.agentTls === "origin-ca" ? "443" : "80"],
    ["TOOLCHAIN_SHA256", input.toolchainSha256 ?? ""],
  ];
  return entries.map(([key, value]) => `${key}="${value.replace(/[\\"`$]/g, "\\$&")}"\n`).join("");
}

// JSON strings are valid YAML double-quoted scalars.
function quoteYaml(value: string): string {
  return JSON.stringify(value);
}

// A literal block scalar keeps the files readable in the user data and has no escapes at all:
// its lines are taken verbatim, which is exact as long as every line is printable (the schema
// guarantees that for the env file; the other files are ours).
function renderBlock(text: string): string {
  const lines = text.replace(/\n$/, "").split("\n");
  return ["|", ...lines.map((line) => (line === "" ? "" : `      ${line}`))].join("\n");
}

function isBaseUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  const normalized = `${url.origin}${url.pathname}`.replace(/\/$/, "");
  return ["http:", "https:"].includes(url.protocol) && value === normalized;
}

function hasAgentDownloadUrl(input: { controlPlaneUrl: string; agentDownloadUrl: string }) {
  return ["amd64", "arm64"].some(
    (arch) => input.agentDownloadUrl === `${input.controlPlaneUrl}/agent/download?arch=${arch}`,
  );
}
