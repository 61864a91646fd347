/* eslint-disable security/detect-non-literal-fs-filename -- the store file is DATA_DIR/github/store.json */
import { createHash, randomBytes, randomInt, scrypt, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { z } from "zod";

// Everything the stand-in must remember across restarts, in one small JSON file. Access
// tokens are kept only as SHA-256 hashes, so the file never holds a usable credential
// except the OAuth client secret (which is why it is written with mode 0600).

const stateSchema = z.object({
  version: z.literal(1),
  client: z.object({ id: z.string().min(1), secret: z.string().min(1) }),
  users: z.record(z.string(), z.object({ id: z.number().int(), name: z.string() })),
  tokens: z.record(
    z.string(),
    z.object({
      login: z.string(),
      scope: z.string(),
      /** Epoch ms; absent: the token does not expire (an OAuth app's). */
      expiresAt: z.number().optional(),
      /** Set for a GitHub App installation token: what it may reach. */
      installation: z
        .object({
          id: z.number().int(),
          repositories: z.array(z.string()),
          contents: z.enum(["read", "write"]),
        })
        .optional(),
    }),
  ),
  /**
   * Each login's password (scrypt, `salt:hash`, by user id), chosen at its first sign-in: in
   * the one-machine mode every workspace shell can reach the stand-in, so without one any of
   * them could sign in as anybody.
   */
  passwords: z.record(z.string(), z.string()).default({}),
  /** GitHub App refresh tokens (single use), by hash, with the access token issued beside. */
  refreshTokens: z
    .record(
      z.string(),
      z.object({
        login: z.string(),
        scope: z.string(),
        expiresAt: z.number(),
        accessTokenHash: z.string(),
      }),
    )
    .default({}),
});

type State = z.output<typeof stateSchema>;

export type StandInUser = { login: string; id: number; name: string };

export type InstallationGrant = { id: number; repositories: string[]; contents: "read" | "write" };

/** Lifetimes in ms of a GitHub App's user token and refresh token. */
export type UserTokenLifetimes = { accessMs: number; refreshMs: number };

export type PendingCode = {
  login: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string | undefined;
  expiresAt: number;
};

export type StandInStore = {
  client: { id: string; secret: string };
  listUsers: () => StandInUser[];
  findUser: (login: string) => StandInUser | undefined;
  ensureUser: (login: string) => Promise<StandInUser>;
  /** The user, if `password` is theirs; a login's first sign-in sets its password. */
  signInUser: (login: string, password: string) => Promise<StandInUser | undefined>;
  /** Changes a user's login, keeping their id and tokens, as a GitHub rename does. */
  renameUser: (login: string, newLogin: string) => Promise<StandInUser>;
  issueToken: (login: string, scope: string) => Promise<string>;
  /** The user and granted scope behind a live user access token, if it is one we issued. */
  findToken: (token: string) => { user: StandInUser; scope: string } | undefined;
  /** An expiring user token with its refresh token, as a GitHub App issues them. */
  issueAppUserTokens: (
    login: string,
    scope: string,
    lifetimes: UserTokenLifetimes,
  ) => Promise<{ accessToken: string; refreshToken: string }>;
  /** The grant behind a live refresh token, which dies with the access token issued with it. */
  takeRefreshToken: (token: string) => Promise<{ login: string; scope: string } | undefined>;
  issueInstallationToken: (grant: InstallationGrant, lifetimeMs: number) => Promise<string>;
  /** What a live installation token may reach. */
  findInstallationToken: (token: string) => (InstallationGrant & { expiresAt: number }) | undefined;
  /** Test switch: every access token issued so far stops working now. */
  expireAccessTokens: () => Promise<void>;
  createCode: (grant: Omit<PendingCode, "expiresAt">) => string;
  /** Returns the grant behind a code and forgets it: a code works once, even if refused. */
  takeCode: (code: string) => PendingCode | undefined;
  /** Resolves once every state change so far is on disk. */
  flush: () => Promise<void>;
};

const codeLifetimeMs = 10 * 60 * 1000;
const firstUserId = 1001;
const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export async function openStandInStore(githubDir: string): Promise<StandInStore> {
  const file = path.join(githubDir, "stand-in.json");
  await mkdir(githubDir, { recursive: true, mode: 0o700 });
  const loaded = await readState(file);
  const state = loaded ?? createState();
  let saving = loaded ? Promise.resolve() : writeState(file, state);
  const save = () => {
    // Writes run one after another so an older snapshot never lands after a newer one; a
    // failed write is reported to its caller and does not block the ones after it.
    saving = saving.catch(() => {}).then(() => writeState(file, state));
    return saving;
  };
  const findUser = (login: string) => findUserIn(state, login);
  async function ensureUserIn(login: string): Promise<StandInUser> {
    const existing = findUser(login);
    if (existing) return existing;
    const ids = Object.values(state.users).map((user) => user.id);
    const user = { id: Math.max(firstUserId - 1, ...ids) + 1, name: capitalize(login) };
    state.users[login] = user;
    await save();
    return { login, ...user };
  }

  return {
    ...createCodeBook(),
    client: state.client,
    listUsers: () => Object.entries(state.users).map(([login, user]) => ({ login, ...user })),
    findUser,
    ensureUser: (login) => ensureUserIn(login),
    signInUser: async (login, password) => {
      const known = findUser(login);
      const stored = known ? state.passwords[String(known.id)] : undefined;
      if (known && stored) return (await passwordMatches(password, stored)) ? known : undefined;
      const user = known ?? (await ensureUserIn(login));
      state.passwords[String(user.id)] = await hashPassword(password);
      await save();
      return user;
    },
    renameUser: async (login, newLogin) => {
      const user = renameUserIn(state, login, newLogin);
      await save();
      return user;
    },
    issueToken: async (login, scope) => {
      const token = `gho_${randomString(36)}`;
      state.tokens[hashToken(token)] = { login, scope };
      await save();
      return token;
    },
    findToken: (token) => {
      const grant = findLive(state, token);
      const user = grant && !grant.installation && findUser(grant.login);
      return grant && user ? { user, scope: grant.scope } : undefined;
    },
    ...createAppTokenBook(state, save),
    flush: () => saving,
  };
}

// Codes live only in memory: they last ten minutes, so a restart losing them costs one retry.
function createCodeBook(): Pick<StandInStore, "createCode" | "takeCode"> {
  const codes = new Map<string, PendingCode>();
  return {
    createCode: (grant) => {
      const now = Date.now();
      for (const [code, pending] of codes) if (pending.expiresAt <= now) codes.delete(code);
      const code = randomBytes(20).toString("hex");
      codes.set(code, { ...grant, expiresAt: now + codeLifetimeMs });
      return code;
    },
    takeCode: (code) => {
      const pending = codes.get(code);
      codes.delete(code);
      return pending && pending.expiresAt > Date.now() ? pending : undefined;
    },
  };
}

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  length: number,
) => Promise<Buffer>;

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32);
  return `${salt.toString("base64url")}:${hash.toString("base64url")}`;
}

async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [salt, expected] = stored.split(":");
  if (!salt || !expected) return false;
  const hash = await scryptAsync(password, Buffer.from(salt, "base64url"), 32);
  const wanted = Buffer.from(expected, "base64url");
  return hash.length === wanted.length && timingSafeEqual(hash, wanted);
}

/** Compares two secrets without leaking through timing how much of them matched. */
export function secretsMatch(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function createState(): State {
  return {
    version: 1,
    client: {
      id: `Iv1.${randomBytes(8).toString("hex")}`,
      secret: randomBytes(20).toString("hex"),
    },
    users: {},
    tokens: {},
    refreshTokens: {},
    passwords: {},
  };
}

async function readState(file: string): Promise<State | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return stateSchema.parse(JSON.parse(text));
  } catch {
    throw new Error(
      `the GitHub stand-in state file ${file} is damaged; delete it to start over ` +
        "(every stand-in user then has to sign in again)",
    );
  }
}

async function writeState(file: string, state: State): Promise<void> {
  // Write a sibling and rename it over the old file so a crash never leaves half a file.
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

// GitHub logins are case-insensitive: "Alice" and "alice" are the same account.
function findUserIn(state: State, login: string): StandInUser | undefined {
  const wanted = login.toLowerCase();
  const found = Object.entries(state.users).find(([known]) => known.toLowerCase() === wanted);
  return found ? { login: found[0], ...found[1] } : undefined;
}

function renameUserIn(state: State, login: string, newLogin: string): StandInUser {
  const user = findUserIn(state, login);
  if (!user) throw new Error(`the GitHub stand-in has no user "${login}" to rename`);
  if (findUserIn(state, newLogin)) throw new Error(`the login "${newLogin}" is taken`);
  delete state.users[user.login];
  state.users[newLogin] = { id: user.id, name: user.name };
  for (const grant of [...Object.values(state.tokens), ...Object.values(state.refreshTokens)])
    if (grant.login === user.login) grant.login = newLogin;
  return { login: newLogin, id: user.id, name: user.name };
}

type Save = () => Promise<void>;

// The GitHub App's tokens: expiring user tokens (ghu_) with single-use refresh tokens (ghr_),
// and installation tokens (ghs_) limited to some repositories of one installation.
function createAppTokenBook(
  state: State,
  save: Save,
): Pick<
  StandInStore,
  | "issueAppUserTokens"
  | "takeRefreshToken"
  | "issueInstallationToken"
  | "findInstallationToken"
  | "expireAccessTokens"
> {
  return {
    issueAppUserTokens: async (login, scope, lifetimes) => {
      const now = Date.now();
      const accessToken = `ghu_${randomString(36)}`;
      const refreshToken = `ghr_${randomString(76)}`;
      state.tokens[hashToken(accessToken)] = { login, scope, expiresAt: now + lifetimes.accessMs };
      state.refreshTokens[hashToken(refreshToken)] = {
        login,
        scope,
        expiresAt: now + lifetimes.refreshMs,
        accessTokenHash: hashToken(accessToken),
      };
      await save();
      return { accessToken, refreshToken };
    },
    takeRefreshToken: async (token) => {
      const hash = hashToken(token);
      const grant = state.refreshTokens[hash];
      if (!grant) return undefined;
      delete state.refreshTokens[hash];
      delete state.tokens[grant.accessTokenHash];
      await save();
      return grant.expiresAt > Date.now() ? { login: grant.login, scope: grant.scope } : undefined;
    },
    issueInstallationToken: async (installation, lifetimeMs) => {
      const token = `ghs_${randomString(36)}`;
      const expiresAt = Date.now() + lifetimeMs;
      state.tokens[hashToken(token)] = { login: "", scope: "", expiresAt, installation };
      await save();
      return token;
    },
    findInstallationToken: (token) => {
      const grant = findLive(state, token);
      return grant?.installation && { ...grant.installation, expiresAt: grant.expiresAt! };
    },
    expireAccessTokens: async () => {
      for (const grant of Object.values(state.tokens)) grant.expiresAt = Date.now() - 1;
      await save();
    },
  };
}

function findLive(state: State, token: string) {
  const grant = state.tokens[hashToken(token)];
  return grant && (grant.expiresAt === undefined || grant.expiresAt > Date.now())
    ? grant
    : undefined;
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function randomString(length: number): string {
  let text = "";
  for (let index = 0; index < length; index++)
    text += alphanumerics[randomInt(alphanumerics.length)];
  return text;
}

function capitalize(login: string): string {
  return login.charAt(0).toUpperCase() + login.slice(1);
}
