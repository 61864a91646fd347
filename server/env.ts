import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import {
  encryptionKeysSchema,
  httpUrlSchema,
  loginListSchema,
  portSchema,
  positiveIntegerSchema,
  postgresUrlSchema,
  trustProxySchema,
} from "./env-values.ts";
import type { OriginCertificateDays } from "./dns/cloudflare-zone.ts";
import { isLoopbackHost } from "./process/loopback.ts";
import type { OutboundRequestObserver } from "./process/outbound-requests.ts";

// The one place that reads process.env (SPEC §3). Everything else receives a parsed `Env`.

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const envSchema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"], {
      error: "expected development, production or test",
    })
    .default("production"),
  PORT: portSchema.default(3000),
  HOST: z
    .string()
    .trim()
    .min(1, { error: "expected a host name or IP address" })
    .default("127.0.0.1"),
  PUBLIC_URL: httpUrlSchema.optional(),
  DATA_DIR: z.string().trim().min(1, { error: "expected a folder path" }).default(".data"),
  DATABASE_URL: postgresUrlSchema.optional(),
  /**
   * Connections this process's pool may open (ADR 0025); unset: 10 for the web, and
   * WORKER_CONCURRENCY + 2 for a worker. Each process also holds one LISTEN connection.
   */
  DATABASE_POOL_SIZE: positiveIntegerSchema.optional(),
  LOG_LEVEL: z
    .enum(logLevels, { error: `expected one of ${logLevels.join(", ")}` })
    .default("info"),
  GITHUB_URL: httpUrlSchema.default("https://github.com"),
  GITHUB_API_URL: httpUrlSchema.default("https://api.github.com"),
  GITHUB_CLIENT_ID: z.string().trim().min(1).optional(),
  GITHUB_CLIENT_SECRET: z.string().trim().min(1).optional(),
  /** A GitHub App (the recommended setup): its numeric App ID and private key (PEM). */
  GITHUB_APP_ID: z
    .string()
    .trim()
    .regex(/^\d+$/, { error: "expected the App's numeric App ID (not its client ID)" })
    .optional(),
  GITHUB_APP_PRIVATE_KEY: z.string().trim().min(1).optional(),
  GITHUB_APP_PRIVATE_KEY_FILE: z
    .string()
    .trim()
    .min(1, { error: "expected a file path" })
    .optional(),
  ENCRYPTION_KEYS: encryptionKeysSchema.optional(),
  ADMIN_GITHUB_LOGINS: loginListSchema.default([]),
  WORKSPACE_PROVIDER: z
    .enum(["local", "hetzner"], { error: "expected local or hetzner" })
    .default("local"),
  HETZNER_API_URL: httpUrlSchema.default("https://api.hetzner.cloud/v1"),
  WORKSPACE_VOLUME_GB: positiveIntegerSchema.default(10),
  DNS_PROVIDER: z
    .enum(["local", "cloudflare"], { error: "expected local or cloudflare" })
    .default("local"),
  BASE_DOMAIN: z
    .string()
    .trim()
    // eslint-disable-next-line security/detect-unsafe-regex -- each repeated group starts with a literal ".", so matching is linear
    .regex(/^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/i, { error: "expected a domain like example.com" })
    .optional(),
  CLOUDFLARE_API_URL: httpUrlSchema.default("https://api.cloudflare.com/client/v4"),
  CLOUDFLARE_API_TOKEN: z.string().trim().min(1).optional(),
  CLOUDFLARE_ZONE_ID: z.string().trim().min(1).optional(),
  /** Validity of the agents' Origin CA certificates, in days (one of the Origin CA's choices). */
  AGENT_CERTIFICATE_DAYS: z
    .enum(["7", "30", "90", "365", "730", "1095", "5475"], {
      error: "expected one of Cloudflare's Origin CA validities: 7, 30, 90, 365, 730, 1095, 5475",
    })
    .default("30")
    .transform((days) => Number(days) as OriginCertificateDays),
  WORKSPACE_LIMIT: positiveIntegerSchema.default(10),
  AGENT_DIST_DIR: z.string().trim().min(1, { error: "expected a folder path" }).optional(),
  /** One-machine mode with other people's GitHub accounts or off loopback: "I know". */
  LOCAL_PROVIDER_MULTI_USER: z
    .enum(["true", "false"], { error: "expected true or false" })
    .default("false")
    .transform((value) => value === "true"),
  /** One-machine mode only: overrides every local workspace's idle timeout (demos, tests). */
  LOCAL_AGENT_IDLE_TIMEOUT_SECONDS: positiveIntegerSchema.optional(),
  WORKER_CONCURRENCY: positiveIntegerSchema.default(4),
  JOB_LEASE_SECONDS: positiveIntegerSchema.default(60),
  /** How long a draining worker lets running jobs finish before aborting and handing them back. */
  WORKER_DRAIN_GRACE_SECONDS: positiveIntegerSchema.default(15),
  /**
   * The worker's /healthz, /readyz and /metrics (on HOST). 9464 is the port Prometheus's list
   * of exporter ports gives OpenTelemetry's exporter: out of the way of web servers (3000,
   * 8080). 0 takes a free port (the launcher and tests do, so several workers fit one machine).
   */
  WORKER_PORT: portSchema.default(9464),
  /**
   * How long a draining web server keeps serving after /readyz turned 503, so load balancers
   * see the 503 and stop sending before the listener closes. 0 closes at once.
   */
  WEB_DRAIN_GRACE_SECONDS: z
    .string()
    .trim()
    .regex(/^\d+$/, { error: "expected a whole number of seconds, 0 or more" })
    .transform(Number)
    .default(5),
  JOB_MAX_ATTEMPTS: positiveIntegerSchema.default(5),
  JOB_BACKOFF_BASE_MS: positiveIntegerSchema.default(2000),
  HEARTBEAT_TIMEOUT_SECONDS: positiveIntegerSchema.default(180),
  /**
   * How long a new server may take to report its agent before the workspace goes to `error`.
   * A failed boot step says so at once (the bootstrap reports it); this catches a server that
   * never reports at all.
   */
  AGENT_BOOT_TIMEOUT_SECONDS: positiveIntegerSchema.default(900),
  MAX_WORKSPACE_LIFETIME_HOURS: positiveIntegerSchema.default(24 * 7),
  /** How often the Hetzner firewalls' rules are checked against Cloudflare's IP ranges. */
  FIREWALL_REFRESH_MINUTES: positiveIntegerSchema.default(6 * 60),
  API_MAX_BODY_BYTES: positiveIntegerSchema.default(1024 * 1024),
  API_MAX_BATCH_CALLS: positiveIntegerSchema.default(20),
  API_RATE_LIMIT_PER_MINUTE: positiveIntegerSchema.default(600),
  /** Unset: 4 × API_RATE_LIMIT_PER_MINUTE (see parseEnv). */
  API_USER_RATE_LIMIT_PER_MINUTE: positiveIntegerSchema.optional(),
  API_TOKEN_LIMIT: positiveIntegerSchema.default(20),
  TRUST_PROXY: trustProxySchema.default({ hops: 0 }),
});

// Values never repeated back in an error message.
const secretNames = new Set([
  "ENCRYPTION_KEYS",
  "GITHUB_CLIENT_SECRET",
  "GITHUB_APP_PRIVATE_KEY",
  "CLOUDFLARE_API_TOKEN",
]);

export type Env = Omit<
  z.output<typeof envSchema>,
  "PUBLIC_URL" | "API_USER_RATE_LIMIT_PER_MINUTE"
> & { PUBLIC_URL: string; API_USER_RATE_LIMIT_PER_MINUTE: number };

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "EnvError";
  }
}

/** Parses settings from a plain record; throws EnvError naming every bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // An empty variable (`PORT=`) means "not set", as in most tools.
  const present = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = envSchema.safeParse(present);
  if (!result.success) {
    throw new EnvError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? "environment");
        const received = present[name];
        const shown =
          received === undefined || secretNames.has(name)
            ? ""
            : ` (got ${JSON.stringify(redactUrl(received))})`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  const env = result.data;
  if (Boolean(env.GITHUB_CLIENT_ID) !== Boolean(env.GITHUB_CLIENT_SECRET)) {
    throw new EnvError([
      "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: set both (from your GitHub App or OAuth app) or neither (the development stand-in is used)",
    ]);
  }
  const appPrivateKey = readGitHubAppKey(env);
  if (env.DNS_PROVIDER === "cloudflare") {
    const missing = (["BASE_DOMAIN", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ZONE_ID"] as const).filter(
      (name) => !env[name],
    );
    if (missing.length > 0)
      throw new EnvError(
        missing.map(
          (name) => `${name}: required with DNS_PROVIDER=cloudflare (see the settings table)`,
        ),
      );
  }
  checkLocalProviderReach(env);
  return {
    ...env,
    DATA_DIR: path.resolve(env.DATA_DIR),
    PUBLIC_URL: env.PUBLIC_URL ?? `http://localhost:${env.PORT}`,
    // A user's total across their browser and tokens: room for a few callers at full speed.
    API_USER_RATE_LIMIT_PER_MINUTE:
      env.API_USER_RATE_LIMIT_PER_MINUTE ?? 4 * env.API_RATE_LIMIT_PER_MINUTE,
    GITHUB_APP_PRIVATE_KEY: appPrivateKey,
  };
}

/**
 * The GitHub App's private key as PEM, from GITHUB_APP_PRIVATE_KEY (literal newlines or `\n`
 * escapes, as one-line env files need) or GITHUB_APP_PRIVATE_KEY_FILE; checked to be a key.
 */
function readGitHubAppKey(env: z.output<typeof envSchema>): string | undefined {
  const {
    GITHUB_APP_ID: id,
    GITHUB_APP_PRIVATE_KEY: inline,
    GITHUB_APP_PRIVATE_KEY_FILE: file,
  } = env;
  if (inline && file)
    throw new EnvError([
      "GITHUB_APP_PRIVATE_KEY and GITHUB_APP_PRIVATE_KEY_FILE: set one of them, not both",
    ]);
  if (Boolean(id) !== Boolean(inline ?? file))
    throw new EnvError([
      "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE): set both (from your GitHub App's settings page) or neither (then GITHUB_CLIENT_ID/SECRET are an OAuth app's)",
    ]);
  if (!id) return undefined;
  if (!env.GITHUB_CLIENT_ID)
    throw new EnvError([
      "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: required with GITHUB_APP_ID (the App's client id and a client secret, from the App's settings page)",
    ]);
  let pem = inline?.replace(/\\n/g, "\n").trim();
  if (file) {
    try {
      pem = readFileSync(file, "utf8").trim();
    } catch (error) {
      throw new EnvError([
        `GITHUB_APP_PRIVATE_KEY_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}); point it at the .pem file GitHub generated`,
      ]);
    }
  }
  try {
    createPrivateKey(pem!);
  } catch {
    const name = file ? "GITHUB_APP_PRIVATE_KEY_FILE" : "GITHUB_APP_PRIVATE_KEY";
    throw new EnvError([
      `${name}: not a PEM private key; use the .pem file from the App's settings page ("-----BEGIN RSA PRIVATE KEY-----" …)`,
    ]);
  }
  return pem;
}

/**
 * The local provider runs every workspace on this one machine (one kernel, one network). With
 * a real GitHub (anyone with an account can sign in) or listening beyond loopback, strangers
 * would get shells here: that takes an explicit LOCAL_PROVIDER_MULTI_USER=true.
 */
function checkLocalProviderReach(env: z.output<typeof envSchema>): void {
  if (env.WORKSPACE_PROVIDER !== "local" || env.LOCAL_PROVIDER_MULTI_USER) return;
  const realGitHub =
    Boolean(env.GITHUB_CLIENT_ID) && !isLoopbackHost(new URL(env.GITHUB_URL).hostname);
  const reachable = !isLoopbackHost(env.HOST);
  if (!realGitHub && !reachable) return;
  const why = realGitHub
    ? `a real GitHub app is configured (${env.GITHUB_URL}), so anyone who can sign in there would get a shell on this machine`
    : `HOST=${env.HOST} listens beyond loopback, so anyone who reaches it would get a shell on this machine`;
  throw new EnvError([
    `WORKSPACE_PROVIDER: local runs every workspace on this machine and ${why}. ` +
      "Set WORKSPACE_PROVIDER=hetzner, or LOCAL_PROVIDER_MULTI_USER=true if that is what you want " +
      "(run as root, so each workspace gets its own OS user; see README, one-machine mode)",
  ]);
}

/** Reads and parses this process's environment. */
export function loadEnv(): Env {
  return parseEnv(process.env);
}

/**
 * Runs `read` over this process's settings; on an EnvError prints every problem and exits
 * with status 78 (EX_CONFIG) before anything else starts.
 */
export function readSettingsOrExit<T>(read: (env: Env) => T): T {
  try {
    return read(loadEnv());
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    process.stderr.write(`${error.message}\nSee the settings table in README.md.\n`);
    process.exit(78);
  }
}

/** DATABASE_URL, which every process but the launcher (server/start.ts) needs. */
export function requireDatabaseUrl(env: Env): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  throw new EnvError([
    "DATABASE_URL: not set. `npm start` starts an embedded PostgreSQL and sets it for you; " +
      "when running this program on its own, set DATABASE_URL=postgres://user:password@host:5432/database",
  ]);
}

export type EncryptionKeySetting = { id: string; secret: Uint8Array<ArrayBuffer> };

/** ENCRYPTION_KEYS, which the web program needs to read and store secrets. */
export function requireEncryptionKeys(env: Env): EncryptionKeySetting[] {
  if (env.ENCRYPTION_KEYS) return env.ENCRYPTION_KEYS;
  throw new EnvError([
    "ENCRYPTION_KEYS: not set. `npm start` generates one under DATA_DIR in the one-machine mode; " +
      "otherwise set ENCRYPTION_KEYS=id:base64key (see README)",
  ]);
}

export type GitHubAppSettings = { id: string; privateKey: string };

export type GitHubSettings = {
  webUrl: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  /** Set: sign-in is the App's user flow and git gets installation tokens (ADR 0006). */
  app?: GitHubAppSettings;
  /** Told of every request to GitHub's API (the web's metrics); not a setting, added by main.ts. */
  observe?: OutboundRequestObserver;
};

/** The GitHub OAuth app; `npm start` points these at the stand-in when none is configured. */
export function requireGitHub(env: Env): GitHubSettings {
  if (env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET) {
    return {
      webUrl: env.GITHUB_URL,
      apiUrl: env.GITHUB_API_URL,
      clientId: env.GITHUB_CLIENT_ID,
      clientSecret: env.GITHUB_CLIENT_SECRET,
      ...(env.GITHUB_APP_ID && env.GITHUB_APP_PRIVATE_KEY
        ? { app: { id: env.GITHUB_APP_ID, privateKey: env.GITHUB_APP_PRIVATE_KEY } }
        : {}),
    };
  }
  throw new EnvError([
    "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: not set. `npm start` runs a GitHub stand-in for you; " +
      "otherwise create a GitHub App (recommended) or OAuth app with the callback PUBLIC_URL/auth/github/callback",
  ]);
}

/**
 * The environment for a child process of ours: `defaults`, then this one's, then `overrides`
 * (a default is only used when the operator has not set that variable; an empty one counts).
 */
export function childEnvironment(
  overrides: Record<string, string>,
  defaults: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  const merged: Record<string, string> = { ...Object.fromEntries(inherited), ...overrides };
  for (const [name, value] of Object.entries(defaults)) merged[name] ||= value;
  return merged as NodeJS.ProcessEnv;
}

// What a workspace agent started on this machine may see of our environment: enough to run
// a shell, and none of our settings or secrets (DATABASE_URL, ENCRYPTION_KEYS, …).
const agentVisibleVariables = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LC_ALL",
  "TZ",
  "TMPDIR",
];

/** A minimal environment for a local workspace agent, with its own settings. */
export function agentEnvironment(settings: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = agentVisibleVariables
    .map((name) => [name, process.env[name]] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined);
  return { ...Object.fromEntries(inherited), ...settings } as NodeJS.ProcessEnv;
}

// A connection URL's password must not reach an error message or a log line.
function redactUrl(value: string): string {
  return value.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}
