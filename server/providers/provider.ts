// The provider interface of SPEC §8. A provider is bound to one account (for Hetzner: one
// user's API token). Every method is safe to retry: the worker finds servers and volumes
// by their labels before creating them, so a retried or re-taken job never makes a second.

export const managedByLabel = { "managed-by": "cloud-ai-workspaces" } as const;

/** The labels of everything this install creates; add `workspace` for one workspace's. */
export const installLabels = (installId: string) => ({ ...managedByLabel, install: installId });

export type Labels = Record<string, string>;

/** Whether `labels` carry every key and value of `wanted` (a label selector's `k=v,…`). */
export const hasLabels = (labels: Labels, wanted: Labels): boolean =>
  Object.entries(wanted).every(([key, value]) => labels[key] === value);

export type ServerStatus =
  "initializing" | "starting" | "running" | "stopping" | "off" | "deleting" | "unknown";

export type ProviderServer = {
  id: string;
  name: string;
  status: ServerStatus;
  ipv4: string | null;
  labels: Labels;
  /** Only the local provider: the loopback port its agent listens on (a VM's agent uses 443). */
  agentPort?: number;
};

export type ProviderVolume = {
  id: string;
  name: string;
  sizeGb: number;
  /** The server it is attached to, if any. */
  serverId: string | null;
  labels: Labels;
};

/** Hetzner's notice that a type is being retired: no new servers after `unavailableAfter`. */
export type Deprecation = { announced: string; unavailableAfter: string };

export type ServerType = {
  name: string;
  /** e.g. "CX23"; the local provider's says what it is. */
  description: string;
  architecture: "x86" | "arm";
  cpuType: "shared" | "dedicated";
  cores: number;
  memoryGb: number;
  diskGb: number;
  /** Retired everywhere (Hetzner's type-wide notice); per location see `Offer`. */
  deprecation: Deprecation | null;
};

export type Location = { name: string; city: string; country: string };

/** Amounts in the catalogue's currency, VAT included (what the Hetzner Console shows). */
export type Price = { hourly: number; monthly: number };

/** One server type that can be ordered in one location now, and what it costs there. */
export type Offer = { serverType: string; location: string; price: Price | null };

/**
 * What the account can order (SPEC §8): every type and location the provider lists, and the
 * combinations it takes orders for today. Prices change with the order date on Hetzner, so
 * a catalogue is only good for a few minutes (server/services/catalogue.ts caches it).
 */
export type Catalogue = {
  serverTypes: ServerType[];
  locations: Location[];
  offers: Offer[];
  /** ISO 4217 (e.g. "EUR"); null: nothing here has a price (the local provider). */
  currency: string | null;
  /** A volume's price per GB and month; null when there is none. */
  volumePricePerGbMonth: number | null;
};

export type CreateServerInput = {
  /** `ws-{workspace id}`. */
  name: string;
  serverType: string;
  location: string;
  /** cloud-init user data; at most 32 KiB on Hetzner. */
  userData: string;
  labels: Labels;
  /** Volumes to attach (and mount) when the server is created. */
  volumeIds: string[];
};

export type CreateVolumeInput = {
  name: string;
  sizeGb: number;
  location: string;
  labels: Labels;
};

export interface Provider {
  /** Throws an AppError (BAD_REQUEST) with a reason when the token is not accepted. */
  validateToken(): Promise<void>;
  /** The account's catalogue now; the provider's answer, not cached. */
  getCatalogue(): Promise<Catalogue>;
  /** Resolves once the provider has accepted the server and finished its create action. */
  createServer(input: CreateServerInput): Promise<ProviderServer>;
  getServer(id: string): Promise<ProviderServer | null>;
  /** Resolves once the server is gone; a server that is already gone is not an error. */
  deleteServer(id: string): Promise<void>;
  listServers(labels: Labels): Promise<ProviderServer[]>;
  createVolume(input: CreateVolumeInput): Promise<ProviderVolume>;
  getVolume(id: string): Promise<ProviderVolume | null>;
  listVolumes(labels: Labels): Promise<ProviderVolume[]>;
  /** Resolves once detached; detaching a detached volume is not an error. */
  detachVolume(id: string): Promise<void>;
  /** Resolves once deleted; a volume that is already gone is not an error. */
  deleteVolume(id: string): Promise<void>;
}
