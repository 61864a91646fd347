import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { run } from "./run.ts";

// One "server": the cached root under a copy-on-write overlay (so a reboot keeps its disk and
// a new server starts clean), booted by systemd-nspawn with systemd as PID 1, a NoCloud seed
// holding the user data the worker sent, and each attached volume as a real block device at
// the path Hetzner's udev rules give it: /dev/disk/by-id/scsi-0HC_Volume_<id>.

export type MachineOptions = {
  name: string;
  rootImage: string;
  workDir: string;
  namespace: string;
  instanceId: string;
  userData: string;
  /** Loop devices by Hetzner volume id. */
  volumes: Map<string, string>;
  log: (line: string) => void;
};

export type Machine = Awaited<ReturnType<typeof createMachine>>;

export async function createMachine(options: MachineOptions) {
  const { workDir } = options;
  const merged = path.join(workDir, "root");
  const upper = path.join(workDir, "upper");
  const work = path.join(workDir, "work");
  await mkdir(merged, { recursive: true });
  await mkdir(upper, { recursive: true });
  await mkdir(work, { recursive: true });
  const dockerStore = path.join(workDir, "docker");
  await mkdir(dockerStore, { recursive: true });
  await run("mount", [
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=${options.rootImage},upperdir=${upper},workdir=${work}`,
    merged,
  ]);
  const seed = path.join(merged, "var", "lib", "cloud", "seed", "nocloud");
  await mkdir(seed, { recursive: true });
  await writeFile(path.join(seed, "user-data"), options.userData);
  await writeFile(
    path.join(seed, "meta-data"),
    `instance-id: ${options.instanceId}\nlocal-hostname: ${options.name}\n`,
  );
  let container: ChildProcess | undefined;
  let console = "";
  let exited: Promise<number | null> = Promise.resolve(null);

  function boot() {
    const binds = [...options.volumes].map(
      ([id, device]) => `--bind=${device}:/dev/disk/by-id/scsi-0HC_Volume_${id}`,
    );
    container = spawn(
      "systemd-nspawn",
      [
        "--quiet",
        `--directory=${merged}`,
        "--register=no",
        "--keep-unit",
        "--boot",
        "--console=pipe",
        `--machine=${options.name}`,
        `--network-namespace-path=/run/netns/${options.namespace}`,
        // As on a server, root may manage its network (Docker's iptables rules): nspawn grants
        // this only to namespaces it makes itself, and this one is the test's own.
        "--capability=CAP_NET_ADMIN",
        // Docker's overlay2 cannot stack on the overlay root: its store is a plain folder,
        // as it is on a server's own disk.
        `--bind=${dockerStore}:/var/lib/docker`,
        ...binds,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const collect = (chunk: Buffer) => {
      console = (console + chunk.toString()).slice(-200_000);
    };
    container.stdout!.on("data", collect);
    container.stderr!.on("data", collect);
    const child = container;
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  async function initPid(): Promise<number> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const children = await run("pgrep", ["-P", String(container!.pid)]).catch(() => "");
      const pid = Number(children.split("\n")[0]);
      if (pid > 0) return pid;
      if (container!.exitCode !== null || Date.now() > deadline)
        throw new Error(`the container did not start:\n${console}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Runs a command inside the machine, as root, with a clean environment. */
  async function exec(command: string[], timeoutMs = 120_000): Promise<string> {
    const pid = await initPid();
    return run(
      "nsenter",
      [
        `--target=${pid}`,
        "--mount",
        "--uts",
        "--ipc",
        "--net",
        "--pid",
        "--",
        "env",
        "-i",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ...command,
      ],
      timeoutMs,
    );
  }

  async function shutDown(action: "poweroff" | "reboot") {
    if (!container || container.exitCode !== null) return;
    await exec(["systemctl", action, "--no-block"]).catch(() => undefined);
    const stopped = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000)),
    ]);
    if (!stopped) {
      options.log(`${options.name} did not ${action} within 60 s; killing it`);
      container.kill("SIGKILL");
      await exited;
    }
  }

  boot();
  return {
    name: options.name,
    exec,
    /** Waits for systemd to finish starting up; returns running or degraded. */
    waitForSystem: async () =>
      (
        await exec(["systemctl", "is-system-running", "--wait"]).catch(
          (error: Error) => error.message,
        )
      ).trim(),
    readConsole: () => console,
    /** A reboot of the same disk; `whileDown` runs while it is off (a slow boot, an outage). */
    async reboot(whileDown?: () => Promise<void>) {
      await shutDown("reboot");
      await whileDown?.();
      boot();
      await initPid();
    },
    async destroy() {
      await shutDown("poweroff");
      await run("umount", ["--lazy", merged]).catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
