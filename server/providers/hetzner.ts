import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import {
  actionSchema,
  createHetznerApi,
  defaultHetznerTiming,
  HetznerActionError,
  HetznerApiError,
  toLabelSelector,
  type HetznerAction,
  type HetznerTiming,
} from "./hetzner-api.ts";
import { readHetznerCatalogue } from "./hetzner-catalogue.ts";
import { createHetznerFirewalls } from "./hetzner-firewall.ts";
import {
  hasLabels,
  managedByLabel,
  type CreateServerInput,
  type CreateVolumeInput,
  type Labels,
  type Provider,
  type ProviderServer,
  type ProviderVolume,
  type ServerStatus,
} from "./provider.ts";

// The Hetzner Cloud provider (SPEC §8) over the public API, https://docs.hetzner.cloud.
// Creates are made safe to retry by looking the server or volume up by name before sending
// the create again, so a lost response never leaves a second one behind.

export type HetznerProviderOptions = {
  token: string;
  /** https://api.hetzner.cloud/v1 unless given (tests point it at the fake). */
  apiUrl?: string;
  logger?: Logger;
  /** Retry and polling timing; tests shorten it. */
  timing?: Partial<HetznerTiming>;
  /** The job's signal: aborts every request in flight, retry wait and action poll. */
  signal?: AbortSignal;
  /**
   * Our firewall (hetzner-firewall.ts), ensured before every server is created. `sourceIps`
   * is asked only when the project has none yet: Cloudflare's ranges, or it throws.
   */
  firewall?: { installId: string; sourceIps: () => Promise<string[]> };
  /** Told of every request sent (the worker's metrics). */
  observe?: OutboundRequestObserver;
};

export const hetznerApiUrl = "https://api.hetzner.cloud/v1";
export const userDataLimitBytes = 32 * 1024;
// Hetzner's Docker CE app image (Ubuntu 24.04 with Docker CE): the engine is there at boot
// (ADR 0011); the rest of the toolchain installs in the background.
const image = "docker-ce";

const labelsSchema = z.record(z.string(), z.string()).nullish();

const serverSchema = z.object({
  id: z.number(),
  name: z.string(),
  status: z.string(),
  labels: labelsSchema,
  public_net: z.object({ ipv4: z.object({ ip: z.string() }).nullish() }).nullish(),
});
type HetznerServer = z.infer<typeof serverSchema>;

const volumeSchema = z.object({
  id: z.number(),
  name: z.string(),
  size: z.number(),
  server: z.number().nullable(),
  labels: labelsSchema,
});
type HetznerVolume = z.infer<typeof volumeSchema>;

const createdServerSchema = z.object({
  server: serverSchema,
  action: actionSchema.nullable(),
  next_actions: z.array(actionSchema),
});

const createdVolumeSchema = z.object({
  volume: volumeSchema,
  action: actionSchema.nullable(),
  next_actions: z.array(actionSchema),
});

const actionAnswerSchema = z.object({ action: actionSchema });
const placementGroupSchema = z.object({ placement_group: z.object({ id: z.number() }) });

/** Creates of one server, the first included, before a failing create action is final. */
const createServerAttempts = 3;

type CreateOutcome =
  { ok: true; server: ProviderServer } | { ok: false; id: string; failure: HetznerActionError };

export function createHetznerProvider(options: HetznerProviderOptions): Provider {
  const api = createHetznerApi({
    token: options.token,
    apiUrl: options.apiUrl ?? hetznerApiUrl,
    logger: options.logger,
    timing: { ...defaultHetznerTiming, ...options.timing },
    signal: options.signal,
    observe: options.observe,
  });
  const firewalls = options.firewall && createHetznerFirewalls(api, options.firewall.installId);

  /** Null when Hetzner answers 404: the thing is gone, which callers often want. */
  async function unlessGone<T>(work: () => Promise<T>): Promise<T | null> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof HetznerApiError && error.status === 404) return null;
      throw error;
    }
  }

  async function waitForRunningActions(kind: "servers" | "volumes", id: number): Promise<void> {
    const running = await api.listAll(`/${kind}/${id}/actions`, "actions", actionSchema, {
      status: "running",
    });
    await api.waitForActions(running);
  }

  async function fetchServer(id: string): Promise<ProviderServer | null> {
    const answer = await unlessGone(() =>
      api.request("GET", `/servers/${encodeURIComponent(id)}`, z.object({ server: serverSchema })),
    );
    return answer ? toProviderServer(answer.server) : null;
  }

  async function fetchVolume(id: string): Promise<ProviderVolume | null> {
    const answer = await unlessGone(() =>
      api.request("GET", `/volumes/${encodeURIComponent(id)}`, z.object({ volume: volumeSchema })),
    );
    return answer ? toProviderVolume(answer.volume) : null;
  }

  /** What an earlier, unanswered create may have made: ours only if the labels match. */
  function findCreated<T extends { name: string; labels?: Labels | null }>(
    kind: "server" | "volume",
    found: T[],
    input: { name: string; labels: Labels },
  ): T | undefined {
    const [existing] = found;
    if (!existing) return undefined;
    if (!hasLabels(existing.labels ?? {}, input.labels))
      throw new AppError(
        "CONFLICT",
        `A ${kind} named ${input.name} already exists in this Hetzner project but was not made for this workspace. Rename or delete it in the Hetzner Console and try again.`,
      );
    return existing;
  }

  /** No server of ours without the firewall: it must exist and match the server's labels. */
  async function ensureFirewallFor(input: CreateServerInput): Promise<void> {
    if (!firewalls || !options.firewall) return;
    if (!hasLabels(input.labels, firewalls.serverLabels))
      throw new Error(
        `Server ${input.name} would not carry the labels ${toLabelSelector(firewalls.serverLabels)} that our firewall applies to.`,
      );
    await firewalls.ensure(options.firewall.sourceIps);
  }

  /**
   * A server whose create action ended in error is broken (Hetzner's placement or boot
   * failed): it is deleted and made again, a bounded number of times, never handed back.
   */
  async function createServer(input: CreateServerInput): Promise<ProviderServer> {
    checkUserData(input.userData);
    await ensureFirewallFor(input);
    for (let attempt = 1; ; attempt += 1) {
      const made = await createServerOnce(input);
      if (made.ok) return made.server;
      await deleteServer(made.id);
      const reason = `${made.failure.command}: ${made.failure.code}: ${made.failure.reason}`;
      if (attempt >= createServerAttempts)
        throw new Error(
          `Hetzner could not create server ${input.name} ${attempt} times (${reason}); the failed servers were deleted. Try again later, or pick another location or server type.`,
        );
      options.logger?.warn(
        { server: made.id, name: input.name, attempt, reason },
        "Hetzner server creation failed; deleted it, creating it again",
      );
    }
  }

  async function createServerOnce(input: CreateServerInput): Promise<CreateOutcome> {
    const answer = await api.request("POST", "/servers", createdServerSchema, {
      body: {
        name: input.name,
        server_type: input.serverType,
        location: input.location,
        image,
        user_data: input.userData,
        labels: input.labels,
        volumes: input.volumeIds.map(Number),
        // cloud-init mounts the volume itself, where the workspace expects it.
        automount: false,
        start_after_create: true,
      },
      recover: async () => {
        const found = await api.listAll("/servers", "servers", serverSchema, { name: input.name });
        const server = findCreated("server", found, input);
        return server ? { server, action: null, next_actions: [] } : undefined;
      },
    });
    const id = String(answer.server.id);
    try {
      // Found again after a lost answer: its actions, failed ones too, say whether it worked.
      if (answer.action) await api.waitForActions([answer.action, ...answer.next_actions]);
      else
        await api.waitForActions(
          await api.listAll(`/servers/${id}/actions`, "actions", actionSchema),
        );
    } catch (error) {
      if (error instanceof HetznerActionError) return { ok: false, id, failure: error };
      throw error;
    }
    const server = await fetchServer(id);
    if (!server)
      throw new Error(`Hetzner server ${input.name} vanished right after it was created`);
    return { ok: true, server };
  }

  async function deleteServer(id: string): Promise<void> {
    const answer = await unlessGone(() =>
      api.request("DELETE", `/servers/${encodeURIComponent(id)}`, actionAnswerSchema),
    );
    if (answer) await waitUntilGone(answer.action, () => fetchServer(id));
  }

  /** Waits for a delete action; an action that vanished with its server is fine too. */
  async function waitUntilGone(action: HetznerAction, find: () => Promise<unknown>) {
    await unlessGone(() => api.waitForActions([action]));
    if (await find()) throw new Error(`Hetzner ${action.command} (${action.id}) left it in place`);
  }

  async function createVolume(input: CreateVolumeInput): Promise<ProviderVolume> {
    const answer = await api.request("POST", "/volumes", createdVolumeSchema, {
      body: {
        name: input.name,
        size: input.sizeGb,
        location: input.location,
        labels: input.labels,
        automount: false,
        // Formatted by Hetzner, so a fresh server only has to mount it.
        format: "ext4",
      },
      recover: async () => {
        const found = await api.listAll("/volumes", "volumes", volumeSchema, { name: input.name });
        const volume = findCreated("volume", found, input);
        return volume ? { volume, action: null, next_actions: [] } : undefined;
      },
    });
    if (answer.action) await api.waitForActions([answer.action, ...answer.next_actions]);
    else await waitForRunningActions("volumes", answer.volume.id);
    return toProviderVolume(answer.volume);
  }

  async function detachVolume(id: string): Promise<void> {
    const volume = await fetchVolume(id);
    if (!volume?.serverId) return;
    const path = `/volumes/${encodeURIComponent(id)}/actions/detach`;
    const answer = await unlessGone(() => api.request("POST", path, actionAnswerSchema));
    if (answer) await api.waitForActions([answer.action]);
  }

  async function deleteVolume(id: string): Promise<void> {
    const volume = await fetchVolume(id);
    if (!volume) return;
    if (volume.serverId) await detachVolume(id);
    await unlessGone(() =>
      api.request("DELETE", `/volumes/${encodeURIComponent(id)}`, z.unknown()),
    );
  }

  /**
   * Hetzner has no call that tells a token's permission, and a Read token "will only be allowed
   * to perform GET requests" (the Console), answering 403 token_readonly to anything else. So
   * the check is a write that costs nothing: a placement group made and deleted at once.
   */
  async function proveWriteAccess(): Promise<void> {
    const answer = await api.request("POST", "/placement_groups", placementGroupSchema, {
      body: {
        name: `cloud-ai-workspaces-token-check-${crypto.randomUUID().slice(0, 8)}`,
        type: "spread",
        labels: { ...managedByLabel, purpose: "token-check" },
      },
    });
    const path = `/placement_groups/${answer.placement_group.id}`;
    await unlessGone(() => api.request("DELETE", path, z.unknown()));
  }

  return {
    validateToken: async () => {
      try {
        await proveWriteAccess();
      } catch (error) {
        throw refusedTokenError(error);
      }
    },
    getCatalogue: () => readHetznerCatalogue(api),
    createServer,
    getServer: fetchServer,
    deleteServer,
    listServers: async (labels) => {
      const query = { label_selector: toLabelSelector(labels) };
      const servers = await api.listAll("/servers", "servers", serverSchema, query);
      return servers.map(toProviderServer);
    },
    createVolume,
    getVolume: fetchVolume,
    listVolumes: async (labels) => {
      const query = { label_selector: toLabelSelector(labels) };
      const volumes = await api.listAll("/volumes", "volumes", volumeSchema, query);
      return volumes.map(toProviderVolume);
    },
    detachVolume,
    deleteVolume,
  };
}

function checkUserData(userData: string): void {
  const bytes = Buffer.byteLength(userData, "utf8");
  if (bytes > userDataLimitBytes)
    throw new AppError(
      "BAD_REQUEST",
      `The cloud-init user data is ${bytes} bytes, but Hetzner accepts at most ${userDataLimitBytes} bytes (32 KiB). Shorten the setup script or the files it writes.`,
    );
}

function refusedTokenError(error: unknown): unknown {
  if (!(error instanceof HetznerApiError) || (error.status !== 401 && error.status !== 403))
    return error;
  const where = "the Hetzner Console (your project → Security → API tokens)";
  const message =
    error.code === "token_readonly"
      ? `This token is Read only: workspaces need Read & Write. Create a Read & Write token in ${where} and paste it here.`
      : `Hetzner refused this API token (${error.status} ${error.code || "unauthorized"}). Create a Read & Write token in ${where} and paste it here.`;
  return new AppError("BAD_REQUEST", message, { cause: error });
}

const statusMap: Record<string, ServerStatus> = {
  initializing: "initializing",
  starting: "starting",
  running: "running",
  stopping: "stopping",
  off: "off",
  deleting: "deleting",
  rebuilding: "starting",
};

function toProviderServer(server: HetznerServer): ProviderServer {
  return {
    id: String(server.id),
    name: server.name,
    status: statusMap[server.status] ?? "unknown",
    ipv4: server.public_net?.ipv4?.ip ?? null,
    labels: server.labels ?? {},
  };
}

function toProviderVolume(volume: HetznerVolume): ProviderVolume {
  return {
    id: String(volume.id),
    name: volume.name,
    sizeGb: volume.size,
    serverId: volume.server === null ? null : String(volume.server),
    labels: volume.labels ?? {},
  };
}
