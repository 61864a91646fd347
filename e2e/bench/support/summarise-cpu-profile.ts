import { readFile } from "node:fs/promises";

// Reads a V8 .cpuprofile (node --cpu-prof) and prints self time by area (a package, or our
// folder) and the heaviest functions, in % of the profile's samples. For the HTTP bench's
// profile (ADR 0026):  node --import tsx e2e/bench/support/summarise-cpu-profile.ts FILE [N]
//   [FROM TO]: only the samples between FROM and TO seconds before the profile's end (the
//   bench's last phases: workspaces.list is the last HTTP_BENCH_SECONDS, system.info before).

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

const write = (line: string) => process.stdout.write(`${line}\n`);

function areaOf(url: string): string {
  if (!url) return "(native/vm)";
  const inPackage = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (inPackage) return inPackage[1]!;
  if (url.startsWith("node:")) return url;
  const ours = url.match(/\/(server\/[^/]+|build|db|app)\//);
  return ours ? ours[1]! : url;
}

const [file, top = "30", from, to] = process.argv.slice(2);
if (!file) throw new Error("usage: summarise-cpu-profile.ts FILE.cpuprofile [N]");
const profile = JSON.parse(await readFile(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfTime = new Map<number, number>();
const totalSpan = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0);
const [start, end] =
  from && to ? [totalSpan - Number(from) * 1e6, totalSpan - Number(to) * 1e6] : [0, Infinity];
let at = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index] ?? 0;
  at += delta;
  if (at >= start && at <= end) selfTime.set(id, (selfTime.get(id) ?? 0) + delta);
});
const total = [...selfTime.values()].reduce((sum, time) => sum + time, 0);
const areas = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, time] of selfTime) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const area = areaOf(url);
  areas.set(area, (areas.get(area) ?? 0) + time);
  const key = `${functionName || "(anonymous)"} ${url.replace(/^.*node_modules\//, "")}:${lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + time);
}
const print = (title: string, entries: Map<string, number>) => {
  write(`\n${title}`);
  for (const [name, time] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
    write(`${((time / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
};
write(`total ${(total / 1e6).toFixed(1)} s of samples`);
print("self time by area", areas);
print("self time by function", functions);
