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

const specs: TypeSpec[] = [
  { id: 1, name: "cx23", cores: 2, memory: 4, disk: 40, monthlyNet: 2.99, line: costOptimized },
  { id: 2, name: "cx33", cores: 4, memory: 8, disk: 80, monthlyNet: 4.99, line: costOptimized },
  { id: 3, name: "cx43", cores: 8, memory: 16, disk: 160, monthlyNet: 8.99, line: costOptimized },
  { id: 4, name: "cax11", cores: 2, memory: 4, disk: 40, monthlyNet: 3.79, line: arm },
  {
    id: 5,
    name: "cx22",
    cores: 2,
    memory: 4,
    disk: 40,
    monthlyNet: 3.79,
    line: costOptimized,
    deprecation: { announced: "2025-10-16T06:00:00Z", unavailable_after: "2026-03-31T23:59:59Z" },
  },
  { id: 6, name: "cx53", cores: 16, memory: 32, disk: 320, monthlyNet: 16.99, line: costOptimized },
  { id: 7, name: "cax21", cores: 4, memory: 8, disk: 80, monthlyNet: 6.49, line: arm },
  { id: 8, name: "cax31", cores: 8, memory: 16, disk: 160, monthlyNet: 12.49, line: arm },
  { id: 9, name: "cax41", cores: 16, memory: 32, disk: 320, monthlyNet: 24.49, line: arm },
  { id: 10, name: "cpx22", cores: 2, memory: 4, disk: 80, monthlyNet: 7.99, line: regular },
  { id: 11, name: "cpx32", cores: 4, memory: 8, disk: 160, monthlyNet: 13.99, line: regular },
  { id: 12, name: "cpx42", cores: 8, memory: 16, disk: 320, monthlyNet: 25.49, line: regular },
  { id: 13, name: "ccx13", cores: 2, memory: 8, disk: 80, monthlyNet: 12.49, line: dedicated },
  { id: 14, name: "ccx23", cores: 4, memory: 16, disk: 160, monthlyNet: 24.49, line: dedicated },
  { id: 15, name: "ccx33", cores: 8, memory: 32, disk: 240, monthlyNet: 48.49, line: dedicated },
];

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
