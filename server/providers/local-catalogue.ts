import os from "node:os";
import type { Catalogue } from "./provider.ts";

/**
 * One type in one place, with no price: a local workspace is a process on this machine,
 * sharing its cores and memory, so the numbers are the machine's, not a reservation.
 */
export const localCatalogue: Catalogue = {
  serverTypes: [
    {
      name: "local",
      description: "A process on this machine",
      architecture: process.arch === "arm64" ? "arm" : "x86",
      cpuType: "shared",
      cores: os.cpus().length || 1,
      memoryGb: Math.round(os.totalmem() / 1024 ** 3),
      diskGb: 0,
      deprecation: null,
    },
  ],
  locations: [{ name: "local", city: "This machine", country: "—" }],
  offers: [{ serverType: "local", location: "local", price: null }],
  currency: null,
  volumePricePerGbMonth: null,
};
