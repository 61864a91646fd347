import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { projectRoot } from "../../../server/testing/program.ts";
import { run } from "./run.ts";

// The root file system the real-OS boot test boots: Debian 12 from Debian's own packages,
// made by debootstrap once and kept in an ignored folder (.cache/real-os), keyed by what goes
// into it, so a second run starts in seconds. It stands in for Hetzner's `docker-ce` image:
// systemd, cloud-init, curl, git, python3 (cloud-init's own), sudo, zstd and a Docker engine.
// Nothing of ours is in it: everything of ours arrives through the user data, as on a real
// server.

const suite = "bookworm";
const mirror = "http://deb.debian.org/debian";

const packages = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "cloud-init",
  // debootstrap does not resolve virtual packages: cryptography needs the cffi backend.
  "python3-cffi-backend",
  "locales",
  "ca-certificates",
  "curl",
  "git",
  "e2fsprogs",
  "util-linux",
  "iproute2",
  "sudo",
  "tmux",
  "zstd",
  "procps",
  // Hetzner's docker-ce image has the engine; Debian's package stands in for it.
  "docker.io",
];

// Test-image settings only: the seed is NoCloud (Hetzner's datasource is its metadata
// service), and the network is the test's own namespace, set up from outside.
const cloudConfig = ["datasource_list: [ NoCloud, None ]", "network: {config: disabled}", ""].join(
  "\n",
);

const cacheRoot = path.join(projectRoot, ".cache", "real-os");

/** The cached root's folder, built first when missing. */
export async function ensureRootImage(log: (line: string) => void): Promise<string> {
  const key = createHash("sha256")
    .update(JSON.stringify({ suite, packages, cloudConfig, locale: "en_US.UTF-8" }))
    .digest("hex")
    .slice(0, 16);
  const root = path.join(cacheRoot, `${suite}-${key}`);
  if (existsSync(path.join(root, "etc", "caw-image-ready"))) return root;
  const partial = `${root}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(cacheRoot, { recursive: true });
  log(`building the root image with debootstrap (${suite}, ${packages.length} packages)`);
  await run("debootstrap", [
    "--variant=minbase",
    `--include=${packages.join(",")}`,
    suite,
    partial,
    mirror,
  ]);
  await writeFile(
    path.join(partial, "etc", "cloud", "cloud.cfg.d", "90-real-os-test.cfg"),
    cloudConfig,
  );
  // Cloud images ship a generated en_US.UTF-8, which cloud-init's locale module sets.
  await writeFile(path.join(partial, "etc", "locale.gen"), "en_US.UTF-8 UTF-8\n");
  await run("chroot", [partial, "locale-gen"]);
  // Empty: systemd makes a machine id on first boot, as on a fresh server.
  await writeFile(path.join(partial, "etc", "machine-id"), "");
  await run("chroot", [partial, "apt-get", "clean"]);
  await writeFile(path.join(partial, "etc", "caw-image-ready"), `${key}\n`);
  await rm(root, { recursive: true, force: true });
  await rename(partial, root);
  // Images of earlier package lists are never used again: keep the cache to one.
  for (const entry of await readdir(cacheRoot))
    if (entry !== path.basename(root))
      await rm(path.join(cacheRoot, entry), { recursive: true, force: true });
  return root;
}
