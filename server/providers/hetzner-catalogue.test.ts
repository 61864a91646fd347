import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import { createHetznerApi, defaultHetznerTiming, HetznerApiError } from "./hetzner-api.ts";
import { readHetznerCatalogue, toCatalogue } from "./hetzner-catalogue.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { managedByLabel, type Catalogue } from "./provider.ts";

// The catalogue as our client reads it from the fake Hetzner over real HTTP: what is
// offered where, at which price, and what is not offered at all.

let fake: FakeHetzner;
let catalogue: Catalogue;

beforeAll(async () => {
  fake = await startFakeHetzner();
  const api = createHetznerApi({
    token: fake.token,
    apiUrl: fake.url,
    timing: { ...defaultHetznerTiming, sleep: async () => {} },
  });
  catalogue = await readHetznerCatalogue(api);
});
afterAll(() => fake?.close());

const whereOffered = (type: string) =>
  catalogue.offers.filter((offer) => offer.serverType === type).map((offer) => offer.location);
const offer = (type: string, location: string) =>
  catalogue.offers.find((entry) => entry.serverType === type && entry.location === location);

describe("the Hetzner catalogue", () => {
  it("reads every server type with its facts, and every location", () => {
    expect(catalogue.serverTypes.find((type) => type.name === "cax11")).toEqual({
      name: "cax11",
      description: "CAX11",
      architecture: "arm",
      cpuType: "shared",
      cores: 2,
      memoryGb: 4,
      diskGb: 40,
      deprecation: null,
    });
    expect(catalogue.serverTypes.find((type) => type.name === "ccx63")).toMatchObject({
      cpuType: "dedicated",
      cores: 48,
    });
    expect(catalogue.locations.map((location) => location.name).sort()).toEqual(
      ["ash", "fsn1", "hel1", "hil", "nbg1", "sin"].sort(),
    );
    expect(catalogue.locations).toContainEqual({ name: "ash", city: "Ashburn, VA", country: "US" });
  });

  it("offers a type only where Hetzner lists it", () => {
    expect(whereOffered("cx23")).toEqual(["fsn1", "nbg1", "hel1"]);
    expect(whereOffered("cax41")).toEqual(["fsn1", "nbg1", "hel1"]);
    expect(whereOffered("cpx12")).toHaveLength(6);
    expect(whereOffered("ccx13")).toContain("sin");
  });

  it("does not offer a deprecated type, but still lists it with its deprecation", () => {
    expect(whereOffered("cx22")).toEqual([]);
    expect(catalogue.serverTypes.find((type) => type.name === "cx22")?.deprecation).toEqual({
      announced: "2025-10-16T06:00:00Z",
      unavailableAfter: "2026-01-01T00:00:00Z",
    });
  });

  it("prices each offer where it is, VAT included, from /pricing", async () => {
    const pricing = (await (
      await fetch(`${fake.url}/pricing`, { headers: { authorization: `Bearer ${fake.token}` } })
    ).json()) as {
      pricing: {
        server_types: {
          name: string;
          prices: { location: string; price_hourly: { gross: string } }[];
        }[];
      };
    };
    const listed = pricing.pricing.server_types.find((type) => type.name === "cpx22")!;
    const inAsh = listed.prices.find((price) => price.location === "ash")!;
    expect(offer("cpx22", "ash")?.price?.hourly).toBe(Number(inAsh.price_hourly.gross));
    expect(offer("cpx22", "ash")!.price!.hourly).toBeGreaterThan(
      offer("cpx22", "fsn1")!.price!.hourly,
    );
    expect(offer("cx23", "fsn1")!.price!.monthly).toBeGreaterThan(0);
    expect(catalogue.offers.every((entry) => entry.price !== null)).toBe(true);
    expect(catalogue.currency).toBe("EUR");
    expect(catalogue.volumePricePerGbMonth).toBeCloseTo(0.044 * 1.19, 4);
  });

  it("leaves out a location where the type alone is deprecated or out of stock", () => {
    const amount = { net: "1.0000", gross: "1.1900" };
    const price = (location: string) => ({ location, price_hourly: amount, price_monthly: amount });
    const retiring = {
      announced: "2026-01-01T00:00:00Z",
      unavailable_after: "2027-01-01T00:00:00Z",
    };
    const catalogue = toCatalogue(
      [
        {
          ...{ name: "cpx22", description: "CPX22", cores: 2, memory: 4, disk: 80 },
          ...{ cpu_type: "shared", architecture: "x86", deprecation: null },
          prices: ["fsn1", "ash", "sin"].map(price),
          locations: [
            { name: "fsn1", deprecation: null },
            { name: "ash", deprecation: retiring },
            { name: "sin", deprecation: null, available: false },
          ],
        },
      ],
      ["fsn1", "ash", "sin"].map((name) => ({ name, city: name, country: "XX" })),
      { currency: "EUR", volume: { price_per_gb_month: amount }, server_types: [] },
    );
    expect(catalogue.offers.map((entry) => entry.location)).toEqual(["fsn1"]);
  });

  it("reads an answer from before per-location types: the prices name the locations", () => {
    const amount = { net: "1.0000", gross: "1.1900" };
    const price = (location: string) => ({
      location,
      price_hourly: amount,
      price_monthly: amount,
    });
    const old = toCatalogue(
      [
        {
          ...{ name: "cx11", description: "CX11", cores: 1, memory: 2, disk: 20 },
          ...{ cpu_type: "shared", architecture: "x86", deprecated: false },
          prices: [price("fsn1")],
        },
        {
          ...{ name: "cx21", description: "CX21", cores: 2, memory: 4, disk: 40 },
          ...{ cpu_type: "shared", architecture: "x86", deprecated: true },
          prices: [price("fsn1")],
        },
      ],
      [{ name: "fsn1", city: "Falkenstein", country: "DE" }],
      { currency: "EUR", volume: { price_per_gb_month: amount }, server_types: [] },
    );
    expect(old.offers).toEqual([
      { serverType: "cx11", location: "fsn1", price: { hourly: 1.19, monthly: 1.19 } },
    ]);
  });
});

describe("the fake Hetzner's orders", () => {
  it("refuses a type where it is not offered with 422 invalid_input, as Hetzner does", async () => {
    const provider = createHetznerProvider({
      token: fake.token,
      apiUrl: fake.url,
      timing: { sleep: async () => {}, actionPollMs: 0 },
    });
    const refused = await provider
      .createServer({
        name: "ws-refused",
        serverType: "cax11",
        location: "ash",
        userData: "#cloud-config\n",
        labels: { ...managedByLabel, workspace: "refused" },
        volumeIds: [],
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HetznerApiError);
    expect(refused).toMatchObject({ status: 422, code: "invalid_input" });
    expect(fake.state.servers.size).toBe(0);
  });
});
