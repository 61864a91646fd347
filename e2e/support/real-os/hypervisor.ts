import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { FakeHetzner } from "../../fakes/hetzner.ts";
import { createMachine, type Machine } from "./machine.ts";
import type { TestNetwork } from "./network.ts";
import { run } from "./run.ts";

// Plays Hetzner's hypervisor for the fake Hetzner: every server the worker creates there is
// booted as a real machine with the user data the worker sent; a deleted server is powered
// off and its disk discarded. Volumes are sparse files on loop devices that outlive servers,
// as Hetzner volumes do.

export type BootedServer = {
  serverId: number;
  machine: Machine;
  address: string;
  namespace: string;
};

export function startHypervisor(options: {
  hetzner: FakeHetzner;
  network: TestNetwork;
  rootImage: string;
  workDir: string;
  log: (line: string) => void;
}) {
  const booted = new Map<number, BootedServer>();
  const volumes = new Map<number, { file: string; device: string }>();
  const booting = new Set<number>();
  let stopped = false;
  let failure: Error | undefined;

  async function attachVolume(id: number): Promise<string> {
    const known = volumes.get(id);
    if (known) return known.device;
    const file = path.join(options.workDir, `volume-${id}.img`);
    await run("truncate", ["--size=2G", file]);
    const device = (await run("losetup", ["--find", "--show", file])).trim();
    volumes.set(id, { file, device });
    return device;
  }

  async function bootServer(serverId: number) {
    const server = options.hetzner.state.servers.get(serverId)!;
    const { namespace, address } = await options.network.addMachine();
    const devices = new Map<string, string>();
    for (const id of server.volumeIds) devices.set(String(id), await attachVolume(id));
    options.log(
      `booting server ${serverId} at ${address} with volumes ${server.volumeIds.join(", ") || "none"}`,
    );
    const machine = await createMachine({
      name: `caw-${serverId}`,
      rootImage: options.rootImage,
      workDir: path.join(options.workDir, `server-${serverId}`),
      namespace,
      instanceId: `i-${serverId}`,
      userData: server.userData,
      volumes: devices,
      log: options.log,
    });
    booted.set(serverId, { serverId, machine, address, namespace });
  }

  async function destroyServer(serverId: number) {
    const entry = booted.get(serverId)!;
    booted.delete(serverId);
    options.log(`server ${serverId} was deleted; powering it off`);
    await entry.machine.destroy();
    await options.network.removeMachine(entry.namespace);
  }

  async function tick() {
    const servers = options.hetzner.state.servers;
    for (const id of servers.keys())
      if (!booted.has(id) && !booting.has(id)) {
        booting.add(id);
        await bootServer(id).finally(() => booting.delete(id));
      }
    for (const id of [...booted.keys()]) if (!servers.has(id)) await destroyServer(id);
  }

  const loop = (async () => {
    await mkdir(options.workDir, { recursive: true });
    while (!stopped) {
      await tick().catch((error: Error) => {
        failure = error;
        options.log(`hypervisor: ${error.message}`);
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();

  return {
    booted,
    failure: () => failure,
    /** The booted server for a workspace's current server id. */
    async waitForServer(serverId: number, timeoutMs = 120_000): Promise<BootedServer> {
      const deadline = Date.now() + timeoutMs;
      while (!booted.has(serverId)) {
        if (failure) throw failure;
        if (Date.now() > deadline) throw new Error(`server ${serverId} was never booted`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return booted.get(serverId)!;
    },
    async close() {
      stopped = true;
      await loop;
      for (const id of [...booted.keys()]) await destroyServer(id).catch(() => undefined);
      for (const { device } of volumes.values())
        await run("losetup", ["--detach", device]).catch(() => undefined);
      await rm(options.workDir, { recursive: true, force: true });
    },
  };
}
