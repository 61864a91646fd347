import { randomBytes } from "node:crypto";
import { run } from "./run.ts";

// The test's own network: a bridge on the host and, per machine, a network namespace with a
// veth into it. Machines reach the host (the control plane, the GitHub stand-in) at the
// bridge's address and nothing else: there is no route beyond it and no NAT.

export type TestNetwork = {
  hostAddress: string;
  /** A namespace with the next free address; its interface is up, its route to the host set. */
  addMachine(): Promise<{ namespace: string; address: string }>;
  removeMachine(namespace: string): Promise<void>;
  close(): Promise<void>;
};

export async function createTestNetwork(): Promise<TestNetwork> {
  const id = randomBytes(3).toString("hex");
  const bridge = `cawbr${id}`;
  const third = 1 + (randomBytes(1)[0]! % 200);
  const prefix = `10.213.${third}`;
  const hostAddress = `${prefix}.1`;
  await run("ip", ["link", "add", bridge, "type", "bridge"]);
  await run("ip", ["addr", "add", `${hostAddress}/24`, "dev", bridge]);
  await run("ip", ["link", "set", bridge, "up"]);
  const namespaces = new Set<string>();
  let next = 2;
  async function removeMachine(namespace: string) {
    // Deleting the namespace deletes its veth end, and with it the host end.
    await run("ip", ["netns", "del", namespace]).catch(() => undefined);
    namespaces.delete(namespace);
  }
  return {
    hostAddress,
    async addMachine() {
      const index = next++;
      const namespace = `caw${id}m${index}`;
      const hostEnd = `cawv${id}${index}`.slice(0, 15);
      const address = `${prefix}.${index}`;
      await run("ip", ["netns", "add", namespace]);
      namespaces.add(namespace);
      await run("ip", [
        "link",
        "add",
        hostEnd,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        namespace,
      ]);
      await run("ip", ["link", "set", hostEnd, "master", bridge, "up"]);
      await run("ip", ["-n", namespace, "addr", "add", `${address}/24`, "dev", "eth0"]);
      await run("ip", ["-n", namespace, "link", "set", "eth0", "up"]);
      await run("ip", ["-n", namespace, "link", "set", "lo", "up"]);
      await run("ip", ["-n", namespace, "route", "add", "default", "via", hostAddress]);
      // Docker turns forwarding on at start, but nspawn mounts /proc/sys read-only: set it from
      // here, as root may on a server. Forwarded traffic still ends at the host's bridge.
      await run("ip", ["netns", "exec", namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      return { namespace, address };
    },
    removeMachine,
    async close() {
      for (const namespace of namespaces) await removeMachine(namespace);
      await run("ip", ["link", "del", bridge]).catch(() => undefined);
    },
  };
}
