// The fake Hetzner's catalogue, shaped after Hetzner's current lineup: server types exist in
// some locations only (the CX and CAX lines in the EU; since the 2025-09-24 change each type
// lists its locations, each with its own deprecation), prices differ per location, and a
// deprecated type stays listed after it can no longer be ordered. Prices are EUR, made up
// but in Hetzner's proportions; gross is net with the 19 % VAT `/pricing` states.

const vatRate = 0.19;
const hoursPerMonthCap = 672; // Hetzner bills by the hour up to a monthly cap of 672 h

export type FakeLocation = {
  id: number;
  name: string;
  description: string;
  country: string;
  city: string;
  latitude: number;
  longitude: number;
  network_zone: string;
};

export const locations: FakeLocation[] = [
  place(1, "fsn1", "Falkenstein DC Park 1", "DE", "Falkenstein", 50.47612, 12.370071, "eu-central"),
  place(2, "nbg1", "Nuremberg DC Park 1", "DE", "Nuremberg", 49.452102, 11.076665, "eu-central"),
  place(3, "hel1", "Helsinki DC Park 1", "FI", "Helsinki", 60.169855, 24.938379, "eu-central"),
  place(4, "ash", "Ashburn, VA", "US", "Ashburn, VA", 39.045821, -77.487073, "us-east"),
  place(5, "hil", "Hillsboro, OR", "US", "Hillsboro, OR", 45.54222, -122.95177, "us-west"),
  place(6, "sin", "Singapore", "SG", "Singapore", 1.283333, 103.833333, "ap-southeast"),
];

function place(
  ...[id, name, description, country, city, latitude, longitude, zone]: [
    number,
    string,
    string,
    string,
    string,
    number,
    number,
    string,
  ]
): FakeLocation {
  return { id, name, description, country, city, latitude, longitude, network_zone: zone };
}

const europe = ["fsn1", "nbg1", "hel1"];
const everywhere = locations.map((location) => location.name);
// Outside the EU the same type costs more and includes less traffic, as on Hetzner.
const surcharge: Record<string, number> = { ash: 1.2, hil: 1.2, sin: 1.3 };

type Line = {
  category: string;
  architecture: "x86" | "arm";
  cpuType: "shared" | "dedicated";
  where: string[];
};
const costOptimized: Line = {
  category: "cost_optimized",
  architecture: "x86",
  cpuType: "shared",
  where: europe,
};
const regular: Line = {
  category: "regular_purpose",
  architecture: "x86",
  cpuType: "shared",
  where: everywhere,
};
const arm: Line = {
  category: "cost_optimized",
  architecture: "arm",
  cpuType: "shared",
  where: europe,
};
const dedicated: Line = {
  category: "general_purpose",
  architecture: "x86",
  cpuType: "dedicated",
  where: everywhere,
};

export type Deprecation = { announced: string; unavailable_after: string } | null;

type TypeSpec = {
  id: number;
  name: string;
  cores: number;
  memory: number;
  disk: number;
  monthlyNet: number;
  line: Line;
  deprecation?: Deprecation;
};

// Hetzner's current lineup (ids are the fake's own). cx22 stands for a retired type: still
// listed, deprecated with an `unavailable_after` in the past, refused on POST /servers.
const specs: TypeSpec[] = [
  spec(1, "cx23", [2, 4, 40], 2.99, costOptimized),
  spec(2, "cx33", [4, 8, 80], 4.99, costOptimized),
  spec(3, "cx43", [8, 16, 160], 8.99, costOptimized),
  spec(4, "cx53", [16, 32, 320], 16.99, costOptimized),
  spec(5, "cax11", [2, 4, 40], 3.79, arm),
  spec(6, "cax21", [4, 8, 80], 6.49, arm),
  spec(7, "cax31", [8, 16, 160], 12.49, arm),
  spec(8, "cax41", [16, 32, 320], 24.49, arm),
  spec(9, "cpx12", [1, 2, 40], 4.49, regular),
  spec(10, "cpx22", [2, 4, 80], 7.99, regular),
  spec(11, "cpx32", [4, 8, 160], 13.99, regular),
  spec(12, "cpx42", [8, 16, 320], 25.49, regular),
  spec(13, "cpx52", [12, 24, 480], 36.49, regular),
  spec(14, "cpx62", [16, 32, 640], 49.99, regular),
  spec(15, "ccx13", [2, 8, 80], 12.49, dedicated),
  spec(16, "ccx23", [4, 16, 160], 24.49, dedicated),
  spec(17, "ccx33", [8, 32, 240], 48.49, dedicated),
  spec(18, "ccx43", [16, 64, 360], 96.49, dedicated),
  spec(19, "ccx53", [32, 128, 600], 192.49, dedicated),
  spec(20, "ccx63", [48, 192, 960], 288.49, dedicated),
  spec(21, "cx22", [2, 4, 40], 3.79, costOptimized, {
    announced: "2025-10-16T06:00:00Z",
    unavailable_after: "2026-01-01T00:00:00Z",
  }),
];

function spec(
  id: number,
  name: string,
  [cores, memory, disk]: [number, number, number],
  monthlyNet: number,
  line: Line,
  deprecation: Deprecation = null,
): TypeSpec {
  return { id, name, cores, memory, disk, monthlyNet, line, deprecation };
}

const amount = (net: number, digits: number) => ({
  net: net.toFixed(digits),
  gross: (net * (1 + vatRate)).toFixed(digits),
});

function priceIn(spec: TypeSpec, location: string) {
  const monthly = spec.monthlyNet * (surcharge[location] ?? 1);
  const outsideEurope = location in surcharge;
  return {
    location,
    price_hourly: amount(monthly / hoursPerMonthCap, 4),
    price_monthly: amount(monthly, 4),
    included_traffic: (outsideEurope ? 1 : 20) * 1024 ** 4,
    price_per_tb_traffic: amount(1, 4),
  };
}

function renderSpec(spec: TypeSpec) {
  const deprecation = spec.deprecation ?? null;
  return {
    id: spec.id,
    name: spec.name,
    description: spec.name.toUpperCase(),
    cores: spec.cores,
    memory: spec.memory,
    disk: spec.disk,
    deprecated: deprecation !== null,
    deprecation,
    category: spec.line.category,
    storage_type: "local" as const,
    cpu_type: spec.line.cpuType,
    architecture: spec.line.architecture,
    prices: spec.line.where.map((location) => priceIn(spec, location)),
    locations: spec.line.where.map((name) => ({
      id: locations.find((location) => location.name === name)!.id,
      name,
      deprecation,
    })),
  };
}

/** Every server type as `GET /server_types` answers it. */
export const serverTypes = specs.map(renderSpec);
export type FakeServerType = (typeof serverTypes)[number];

export function renderServerType(name: string): FakeServerType {
  return serverTypes.find((type) => type.name === name) ?? serverTypes[0]!;
}

export function renderLocation(name: string): FakeLocation {
  return locations.find((location) => location.name === name) ?? locations[0]!;
}

/**
 * Why Hetzner refuses `type` in `location` (422 on POST /servers), or null when it takes the
 * order: the type is not offered there, or no longer orderable after its deprecation.
 */
export function refusalOf(type: FakeServerType, location: string, now = new Date()): string | null {
  const offered = type.locations.find((entry) => entry.name === location);
  if (!offered) return "unsupported location for server type";
  const until = offered.deprecation?.unavailable_after;
  if (until && new Date(until) < now) return "server type is deprecated and no longer available";
  return null;
}

/** `GET /pricing`: the whole price list, every field the description requires. */
export function renderPricing() {
  const perLocation = (monthlyNet: number) =>
    everywhere.map((location) => ({
      location,
      price_hourly: amount(monthlyNet / hoursPerMonthCap, 4),
      price_monthly: amount(monthlyNet, 4),
    }));
  return {
    pricing: {
      currency: "EUR",
      vat_rate: (vatRate * 100).toFixed(2),
      image: { price_per_gb_month: amount(0.011, 4) },
      floating_ip: { price_monthly: amount(3, 4) },
      floating_ips: (["ipv4", "ipv6"] as const).map((type) => ({
        type,
        prices: everywhere.map((location) => ({ location, price_monthly: amount(3, 4) })),
      })),
      traffic: { price_per_tb: amount(1, 4) },
      server_backup: { percentage: "20.00" },
      volume: { price_per_gb_month: amount(0.044, 4) },
      server_types: specs.map((spec) => ({
        id: spec.id,
        name: spec.name,
        prices: spec.line.where.map((location) => priceIn(spec, location)),
      })),
      load_balancer_types: [{ id: 1, name: "lb11", prices: perLocation(5.39) }],
      primary_ips: [{ type: "ipv4", prices: perLocation(0.5) }],
    },
  };
}
