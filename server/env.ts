import path from "node:path";
import { z } from "zod";

// The one place that reads process.env (SPEC §3). Everything else receives a parsed `Env`.

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const portSchema = z
  .string()
  .trim()
  .regex(/^\d+$/, { error: "expected a whole number between 0 and 65535" })
  .transform(Number)
  .refine((port) => port <= 65535, { error: "expected a whole number between 0 and 65535" });

const httpUrlSchema = z
  .url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
  .transform((value) => value.replace(/\/+$/, ""));

const positiveIntegerSchema = z
  .string()
  .trim()
  .regex(/^[1-9]\d*$/, { error: "expected a whole number greater than 0" })
  .transform(Number);

const postgresUrlSchema = z.url({
  protocol: /^postgres(ql)?$/,
  error: "expected a postgres:// or postgresql:// connection URL",
});

// ENCRYPTION_KEYS: "id:base64key,id:base64key", newest first; each key is 32 random bytes.
const encryptionKeysSchema = z.string().transform((value, context) => {
  const keys = value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [id, secret] = entry.split(":");
      const bytes = secret ? Buffer.from(secret, "base64") : Buffer.alloc(0);
      return { id: id ?? "", secret: new Uint8Array(bytes) as Uint8Array<ArrayBuffer> };
    });
  const valid =
    keys.length > 0 &&
    keys.every((key) => /^[\w-]{1,32}$/.test(key.id) && key.secret.length === 32);
  if (!valid) {
    context.addIssue({
      code: "custom",
      message:
        "expected id:base64key pairs separated by commas, newest first, each key 32 random bytes " +
        "(make one with: node -e \"console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))\")",
    });
    return z.NEVER;
  }
  return keys;
});

const loginListSchema = z.string().transform((value) =>
  value
    .split(",")
    .map((login) => login.trim().toLowerCase())
    .filter(Boolean),
);

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
  LOG_LEVEL: z
    .enum(logLevels, { error: `expected one of ${logLevels.join(", ")}` })
    .default("info"),
  GITHUB_URL: httpUrlSchema.default("https://github.com"),
  GITHUB_API_URL: httpUrlSchema.default("https://api.github.com"),
  GITHUB_CLIENT_ID: z.string().trim().min(1).optional(),
  GITHUB_CLIENT_SECRET: z.string().trim().min(1).optional(),
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
    .regex(/^(?!-)[a-z0-9-]+(\.[a-z0-9-]+)+$/i, { error: "expected a domain like example.com" })
    .optional(),
  CLOUDFLARE_API_URL: httpUrlSchema.default("https://api.cloudflare.com/client/v4"),
  CLOUDFLARE_API_TOKEN: z.string().trim().min(1).optional(),
  CLOUDFLARE_ZONE_ID: z.string().trim().min(1).optional(),
  WORKSPACE_LIMIT: positiveIntegerSchema.default(10),
  AGENT_DIST_DIR: z.string().trim().min(1, { error: "expected a folder path" }).optional(),
  /** One-machine mode only: overrides every local workspace's idle timeout (demos, tests). */
  LOCAL_AGENT_IDLE_TIMEOUT_SECONDS: positiveIntegerSchema.optional(),
  WORKER_CONCURRENCY: positiveIntegerSchema.default(4),
  JOB_LEASE_SECONDS: positiveIntegerSchema.default(60),
  JOB_MAX_ATTEMPTS: positiveIntegerSchema.default(5),
  JOB_BACKOFF_BASE_MS: positiveIntegerSchema.default(2000),
  HEARTBEAT_TIMEOUT_SECONDS: positiveIntegerSchema.default(180),
  MAX_WORKSPACE_LIFETIME_HOURS: positiveIntegerSchema.default(24 * 7),
});

// Values never repeated back in an error message.
const secretNames = new Set(["ENCRYPTION_KEYS", "GITHUB_CLIENT_SECRET", "CLOUDFLARE_API_TOKEN"]);

export type Env = Omit<z.output<typeof envSchema>, "PUBLIC_URL"> & { PUBLIC_URL: string };

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
      "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: set both (from your GitHub OAuth app) or neither (the development stand-in is used)",
    ]);
  }
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
  return {
    ...env,
    DATA_DIR: path.resolve(env.DATA_DIR),
    PUBLIC_URL: env.PUBLIC_URL ?? `http://localhost:${env.PORT}`,
  };
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

export type GitHubSettings = {
  webUrl: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
};

/** The GitHub OAuth app; `npm start` points these at the stand-in when none is configured. */
export function requireGitHub(env: Env): GitHubSettings {
  if (env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET) {
    return {
      webUrl: env.GITHUB_URL,
      apiUrl: env.GITHUB_API_URL,
      clientId: env.GITHUB_CLIENT_ID,
      clientSecret: env.GITHUB_CLIENT_SECRET,
    };
  }
  throw new EnvError([
    "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: not set. `npm start` runs a GitHub stand-in for you; " +
      "otherwise create a GitHub OAuth app with the callback PUBLIC_URL/auth/github/callback",
  ]);
}

/** The environment for a child process of ours: this one's, with overrides. */
export function childEnvironment(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return { ...Object.fromEntries(inherited), ...overrides } as NodeJS.ProcessEnv;
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
