import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";

/**
 * One row per install: its id tags metrics and audit entries, and its creation time tells
 * operators how old the install is. Later issues add the domain tables.
 */
export const installation = pgTable("installation", {
  id: uuid("id").primaryKey().defaultRandom(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const userRoles = ["admin", "member"] as const;
export type UserRole = (typeof userRoles)[number];

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    githubId: bigint("github_id", { mode: "number" }).notNull(),
    login: text("login").notNull(),
    name: text("name"),
    email: text("email"),
    avatarUrl: text("avatar_url"),
    role: text("role", { enum: userRoles }).notNull().default("member"),
    /** AES-GCM envelope (server/crypto), bound to this user's id. */
    githubTokenEncrypted: text("github_token_encrypted"),
    /** When the GitHub App user token expires (null: an OAuth app token, which does not). */
    githubTokenExpiresAt: timestamp("github_token_expires_at", { withTimezone: true }),
    /** AES-GCM envelope of the GitHub App refresh token, bound to this user's id. */
    githubRefreshTokenEncrypted: text("github_refresh_token_encrypted"),
    githubRefreshTokenExpiresAt: timestamp("github_refresh_token_expires_at", {
      withTimezone: true,
    }),
    /** The pseudonym audit entries carry; deleting the user leaves it pointing at nobody. */
    auditSubject: uuid("audit_subject").notNull().defaultRandom(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("users_github_id_unique").on(table.githubId),
    uniqueIndex("users_audit_subject_unique").on(table.auditSubject),
  ],
);

/** Lucia sessions; `id` is the SHA-256 (hex) of the cookie value, never the value itself. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    userAgent: text("user_agent"),
  },
  (table) => [index("sessions_user_id_index").on(table.userId)],
);

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** SHA-256 of the token, hex; the token itself is shown once and never stored. */
    tokenHash: text("token_hash").notNull(),
    /** The first characters, so people can tell their tokens apart. */
    prefix: text("prefix").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("api_tokens_token_hash_unique").on(table.tokenHash),
    index("api_tokens_user_id_index").on(table.userId),
  ],
);

/**
 * ADMIN_GITHUB_LOGINS resolved to GitHub user ids (SPEC §4): the first account seen with a
 * listed login is bound to it, so renaming another account to that login later grants nothing.
 */
export const adminBindings = pgTable("admin_bindings", {
  login: text("login").primaryKey(),
  githubId: bigint("github_id", { mode: "number" }).notNull(),
  boundAt: timestamp("bound_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Hash-chained: each row stores the previous row's hash, so an edit or a gap shows. */
export const auditLog = pgTable("audit_log", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  occurredAt: timestamp("occurred_at", { withTimezone: true, precision: 3 }).notNull(),
  actorSubject: uuid("actor_subject"),
  action: text("action").notNull(),
  targetType: text("target_type"),
  targetId: text("target_id"),
  details: jsonb("details").$type<Record<string, string | number | boolean | null>>().notNull(),
  previousHash: text("previous_hash").notNull(),
  hash: text("hash").notNull(),
});

/** Counters of rate-limiter-flexible's Drizzle store, shared by every web process. */
export const rateLimits = pgTable("rate_limits", {
  key: text("key").primaryKey(),
  points: integer("points").notNull().default(0),
  expire: timestamp("expire", { withTimezone: true }),
});

/** A user's cloud credentials (SPEC §6): the secret only as an AES-GCM envelope. */
export const credentialProviders = ["hetzner"] as const;
export type CredentialProvider = (typeof credentialProviders)[number];

export const credentials = pgTable(
  "credentials",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    provider: text("provider", { enum: credentialProviders }).notNull(),
    /** AES-GCM envelope bound to this row's id. */
    secretEncrypted: text("secret_encrypted").notNull(),
    /** The last four characters, so people can tell which token is saved. */
    hint: text("hint").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex("credentials_user_provider_unique").on(table.userId, table.provider)],
);

export const workspaceStates = [
  "pending",
  "provisioning",
  "booting",
  "running",
  "stopping",
  "stopped",
  "starting",
  "deleting",
  "deleted",
  "error",
] as const;
export type WorkspaceState = (typeof workspaceStates)[number];

export const workspaceProviders = ["hetzner", "local"] as const;
export type WorkspaceProvider = (typeof workspaceProviders)[number];

export const workspaces = pgTable(
  "workspaces",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** `owner/name` on GitHub (or the stand-in). */
    repository: text("repository").notNull(),
    branch: text("branch").notNull(),
    provider: text("provider", { enum: workspaceProviders }).notNull(),
    serverType: text("server_type").notNull(),
    location: text("location").notNull(),
    idleTimeoutMinutes: integer("idle_timeout_minutes").notNull(),
    state: text("state", { enum: workspaceStates }).notNull().default("pending"),
    /** Why the workspace is in `error` (or what it is doing), in words a user can act on. */
    stateReason: text("state_reason"),
    serverId: text("server_id"),
    volumeId: text("volume_id"),
    ipv4: text("ipv4"),
    /** Where the agent answers: `https://ws-{id}.{BASE_DOMAIN}` or a loopback URL. */
    agentUrl: text("agent_url"),
    /** SHA-256 of the one-time bootstrap token rendered into the server's user data. */
    bootstrapTokenHash: text("bootstrap_token_hash"),
    bootstrapExpiresAt: timestamp("bootstrap_expires_at", { withTimezone: true }),
    /**
     * The same token's hash, kept after the agent redeems it: the server's bootstrap and
     * toolchain scripts report boot progress with it (progress only) until the next server.
     */
    bootReportTokenHash: text("boot_report_token_hash"),
    /** SHA-256 of the agent's own token, issued when it redeems the bootstrap token. */
    agentTokenHash: text("agent_token_hash"),
    agentVersion: text("agent_version"),
    lastHeartbeatAt: timestamp("last_heartbeat_at", { withTimezone: true }),
    lastActivityAt: timestamp("last_activity_at", { withTimezone: true }),
    /**
     * SPEC §14: the longest an agent may work with no terminal input before the workspace is
     * stopped anyway (a runaway agent); the idle timeout does not count working time.
     */
    maxWorkingHours: integer("max_working_hours").notNull().default(8),
    /** The user's secrets this workspace gets by name; null: all of them. */
    secretNames: text("secret_names").array(),
    /** When the agent said it will stop the workspace for idleness (its warning); null: not soon. */
    idleStopAt: timestamp("idle_stop_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** Soft delete (SPEC §5): set when deletion finishes; a purge job removes the row later. */
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    /**
     * The create request's idempotency key (ADR 0025): a retry with the same key answers this
     * workspace instead of making another. Null when the create named none.
     */
    idempotencyKey: text("idempotency_key"),
    /** SHA-256 of the create's input, so the same key with another body is refused. */
    idempotencyFingerprint: text("idempotency_fingerprint"),
  },
  (table) => [
    uniqueIndex("workspaces_user_idempotency_key_unique").on(table.userId, table.idempotencyKey),
    uniqueIndex("workspaces_user_name_unique")
      .on(table.userId, table.name)
      .where(sql`${table.deletedAt} is null`),
    index("workspaces_user_id_index").on(table.userId),
    uniqueIndex("workspaces_bootstrap_token_hash_unique").on(table.bootstrapTokenHash),
    uniqueIndex("workspaces_agent_token_hash_unique").on(table.agentTokenHash),
  ],
);

/** The timeline of a workspace: one row per state change (SPEC §5). */
export const workspaceEvents = pgTable(
  "workspace_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull().defaultNow(),
    fromState: text("from_state", { enum: workspaceStates }),
    toState: text("to_state", { enum: workspaceStates }).notNull(),
    reason: text("reason").notNull(),
    /** `user`, `worker`, `agent` or `system`. */
    actor: text("actor").notNull(),
  },
  (table) => [index("workspace_events_workspace_id_index").on(table.workspaceId, table.id)],
);

export const costResources = ["server", "volume"] as const;
export type CostResource = (typeof costResources)[number];

/**
 * What a workspace costs (issue #13): one row per server (from its creation to its deletion;
 * every start orders a new one, at that day's price) and per volume, with the price the
 * catalogue named when the worker ordered it.
 */
export const workspaceCostPeriods = pgTable(
  "workspace_cost_periods",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    resource: text("resource", { enum: costResources }).notNull(),
    /** The provider's id of the server or volume. */
    resourceId: text("resource_id").notNull(),
    serverType: text("server_type"),
    location: text("location").notNull(),
    /** A volume's size; null for a server. */
    sizeGb: integer("size_gb"),
    /** A server's price per hour, VAT included; null: unknown (or a volume). */
    priceHourly: numeric("price_hourly", { mode: "number" }),
    /** A server's monthly cap, or a volume's price per GB and month; null: unknown. */
    priceMonthly: numeric("price_monthly", { mode: "number" }),
    /** ISO 4217; null: the provider has no prices (local). */
    currency: text("currency"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    /** When it was deleted; null: still there (and billed). */
    endedAt: timestamp("ended_at", { withTimezone: true }),
  },
  (table) => [
    uniqueIndex("workspace_cost_periods_resource_unique").on(
      table.workspaceId,
      table.resource,
      table.resourceId,
    ),
  ],
);

export const jobStatuses = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof jobStatuses)[number];

/** The queue and the record of every job (SPEC §7). */
export const jobs = pgTable(
  "jobs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    kind: text("kind").notNull(),
    workspaceId: uuid("workspace_id").references(() => workspaces.id, { onDelete: "cascade" }),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull().default({}),
    status: text("status", { enum: jobStatuses }).notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(5),
    runAt: timestamp("run_at", { withTimezone: true }).notNull().defaultNow(),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    lastError: text("last_error"),
    /** Periodic jobs carry a key so only one of each is waiting at a time. */
    uniqueKey: text("unique_key"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (table) => [
    index("jobs_ready_index")
      .on(table.runAt, table.id)
      .where(sql`${table.status} = 'queued'`),
    index("jobs_lease_index")
      .on(table.lockedUntil)
      .where(sql`${table.status} = 'running'`),
    index("jobs_workspace_id_index").on(table.workspaceId),
    // At most one running job per workspace, whatever the workers race to do.
    uniqueIndex("jobs_one_running_per_workspace")
      .on(table.workspaceId)
      .where(sql`${table.status} = 'running'`),
    uniqueIndex("jobs_unique_key_waiting")
      .on(table.uniqueKey)
      .where(sql`${table.status} in ('queued', 'running')`),
    index("jobs_status_index").on(table.status, table.kind),
  ],
);

/** Each job's log lines, shown live on the workspace page and the admin dashboard. */
export const jobEvents = pgTable(
  "job_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: bigint("job_id", { mode: "number" })
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull().defaultNow(),
    level: text("level", { enum: ["info", "warn", "error"] }).notNull(),
    message: text("message").notNull(),
  },
  (table) => [index("job_events_job_id_index").on(table.jobId, table.id)],
);

/**
 * RS256 keys that sign terminal JWTs (SPEC §9). The private key is an AES-GCM envelope;
 * `/.well-known/jwks.json` publishes the current and the next key so agents already know a
 * key before it starts signing.
 */
export const signingKeys = pgTable("signing_keys", {
  /** The JWT `kid`. */
  id: text("id").primaryKey(),
  publicJwk: jsonb("public_jwk").$type<Record<string, unknown>>().notNull(),
  privateKeyEncrypted: text("private_key_encrypted").notNull(),
  /** Signs from this moment; the newest key whose time has come is the current one. */
  activatesAt: timestamp("activates_at", { withTimezone: true }).notNull(),
  /** Published until this moment (tokens it signed have expired by then). */
  retiresAt: timestamp("retires_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * One row per terminal link signed (SPEC §9, §10): the JWT's `jti`. The agent's cookie carries
 * it, and heartbeats ask which grants still stand, so signing out, revoking a session or an API
 * token, or deleting the account ends that browser's terminal within one heartbeat.
 */
export const terminalGrants = pgTable(
  "terminal_grants",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The session that asked for the link; its end ends the grant. */
    sessionId: text("session_id").references(() => sessions.id, {
      onDelete: "cascade",
      onUpdate: "cascade",
    }),
    /** Or the API token that asked for it. */
    apiTokenId: uuid("api_token_id").references(() => apiTokens.id, { onDelete: "cascade" }),
    /** The agent's cookie lasts no longer than this. */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index("terminal_grants_workspace_id_index").on(table.workspaceId),
    index("terminal_grants_expires_at_index").on(table.expiresAt),
  ],
);

/**
 * A user's named secrets (SPEC §14: API keys for AI agents). Write-only: the value is an AES-GCM
 * envelope bound to this row's id and is only ever decrypted for the agent of a workspace that
 * gets it. The name is the environment variable it becomes in the workspace's shells.
 */
export const secrets = pgTable(
  "secrets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    valueEncrypted: text("value_encrypted").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex("secrets_user_name_unique").on(table.userId, table.name)],
);

export const sessionStatuses = ["working", "waiting", "done", "error"] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

/**
 * The terminal sessions (tmux) of a running workspace as its agent last reported them
 * (SPEC §14); the agent replaces the whole set with each report.
 */
export const workspaceSessions = pgTable(
  "workspace_sessions",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    lastOutputAt: timestamp("last_output_at", { withTimezone: true }),
    /** What `caw status` last said; null for a session no AI agent reported in. */
    status: text("status", { enum: sessionStatuses }),
    statusMessage: text("status_message"),
    statusChangedAt: timestamp("status_changed_at", { withTimezone: true }),
    reportedAt: timestamp("reported_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.workspaceId, table.name] })],
);

export const notificationKinds = [
  "needs_input",
  "done",
  "error",
  "stopping_soon",
  "stopped",
] as const;
export type NotificationKind = (typeof notificationKinds)[number];

/**
 * What a user is told (SPEC §14): an agent needs input, is done or failed; a workspace will stop
 * soon or stopped. The browser shows new rows as notifications; a webhook gets each one.
 */
export const notifications = pgTable(
  "notifications",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    sessionName: text("session_name"),
    kind: text("kind", { enum: notificationKinds }).notNull(),
    message: text("message").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("notifications_user_id_index").on(table.userId, table.id)],
);

/** A user's webhook for notifications; the signing secret is an envelope bound to the user id. */
export const notificationWebhooks = pgTable("notification_webhooks", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  url: text("url").notNull(),
  secretEncrypted: text("secret_encrypted").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
