import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { provideHelm } from "../testing/helm-binary.ts";
import { createKubernetesValidator } from "../testing/kubernetes-schema.ts";

// `helm lint` and `helm template` on the chart, with the real helm binary, and every rendered
// manifest checked against Kubernetes' schemas with unknown fields refused.

const run = promisify(execFile);
const chart = fileURLToPath(new URL("./cloud-ai-workspaces/", import.meta.url));
const minimal = path.join(chart, "ci", "minimal-values.yaml");
const everything = path.join(chart, "ci", "everything-values.yaml");
const validator = createKubernetesValidator();
let helm: string;

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- read by path in assertions
  data?: Record<string, string>;
};

async function helmRun(...args: string[]): Promise<string> {
  const { stdout } = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function helmFailure(...args: string[]): Promise<string> {
  const failure = await helmRun(...args).then(
    () => null,
    (error: { stderr?: string }) => error.stderr ?? String(error),
  );
  if (failure === null) throw new Error(`helm ${args.join(" ")} succeeded; expected a refusal`);
  return failure;
}

async function render(...valueFiles: string[]): Promise<Manifest[]> {
  const output = await helmRun("template", "caw", chart, ...valueFiles.flatMap((f) => ["-f", f]));
  return parseAllDocuments(output)
    .map((document) => document.toJSON() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

const domain = "config:\n  BASE_DOMAIN: example.com\n";

async function valuesFile(content: string): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), "caw-chart-"));
  const file = path.join(folder, "values.yaml");
  await writeFile(file, content);
  return file;
}

function find(manifests: Manifest[], kind: string, suffix: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name.endsWith(suffix));
  if (!found) throw new Error(`no ${kind} named …${suffix} in the rendered chart`);
  return found;
}

beforeAll(async () => {
  helm = await provideHelm();
});

describe("helm chart", () => {
  it("passes helm lint --strict with the least values and with everything on", async () => {
    for (const values of [minimal, everything]) {
      const output = await helmRun("lint", "--strict", chart, "-f", values);
      expect(output).toContain("0 chart(s) failed");
    }
  });

  it.each([
    ["the least values", [minimal]],
    ["everything on", [everything]],
  ])("renders manifests that fit Kubernetes' schemas (%s)", async (_name, files) => {
    const manifests = await render(...files);
    const problems = manifests.flatMap((manifest) => validator.check(manifest));
    expect(problems).toEqual([]);
    expect(manifests.length).toBeGreaterThanOrEqual(9);
  });

  it("renders every part when everything is on, and never a Secret", async () => {
    const manifests = await render(everything);
    const kinds = manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(kinds).toEqual([
      "ConfigMap/caw",
      "Deployment/caw-web",
      "Deployment/caw-worker",
      "Ingress/caw",
      "Job/caw-migrate",
      "PodDisruptionBudget/caw-web",
      "PodDisruptionBudget/caw-worker",
      "Service/caw-web",
      "Service/caw-worker-metrics",
      "ServiceAccount/caw-runner",
    ]);
  });

  it("runs both programs non-root on a read-only root, with probes and a grace past the drain", async () => {
    const manifests = await render(minimal);
    for (const [suffix, port, drain] of [
      ["-web", "http", "WEB_DRAIN_GRACE_SECONDS"],
      ["-worker", "metrics", "WORKER_DRAIN_GRACE_SECONDS"],
    ] as const) {
      const pod = find(manifests, "Deployment", suffix).spec!.template.spec;
      const container = pod.containers[0];
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port });
      expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port });
      expect(container.command[0]).toBe("node");
      const grace = Number(container.env.find((e: { name: string }) => e.name === drain).value);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(grace);
      expect(container.envFrom).toContainEqual({ secretRef: { name: "cloud-ai-workspaces" } });
    }
  });

  it("migrates in a pre-install, pre-upgrade hook that needs only the existing Secret", async () => {
    const job = find(await render(minimal), "Job", "-migrate");
    expect(job.metadata.annotations).toMatchObject({
      "helm.sh/hook": "pre-install,pre-upgrade",
    });
    const pod = job.spec!.template.spec;
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.containers[0].envFrom).toBeUndefined();
    expect(pod.containers[0].env[0].valueFrom.secretKeyRef.key).toBe("DATABASE_URL");
  });

  it("refuses to render without the Secret's name, the public URL or BASE_DOMAIN, saying which", async () => {
    expect(await helmFailure("template", "caw", chart)).toMatch(
      /publicUrl|existingSecret|BASE_DOMAIN/,
    );
    const noSecret = await valuesFile(`publicUrl: https://workspaces.example.com\n${domain}`);
    expect(await helmFailure("template", "caw", chart, "-f", noSecret)).toContain(
      "existingSecret: name the Secret",
    );
    const noDomain = await valuesFile("config:\n  BASE_DOMAIN: ''\n");
    expect(await helmFailure("template", "caw", chart, "-f", minimal, "-f", noDomain)).toContain(
      "config.BASE_DOMAIN: set the domain",
    );
    const noUrl = await valuesFile(`existingSecret: caw\n${domain}`);
    expect(await helmFailure("template", "caw", chart, "-f", noUrl)).toContain(
      "publicUrl: set the URL",
    );
  });

  it("refuses a grace that ends before the drain, a typo'd value, a secret or a chart-set name in config", async () => {
    const shortGrace = await valuesFile("worker:\n  terminationGracePeriodSeconds: 10\n");
    expect(await helmFailure("template", "caw", chart, "-f", minimal, "-f", shortGrace)).toContain(
      "worker.terminationGracePeriodSeconds (10) must be greater than worker.drainGraceSeconds (15)",
    );
    const typo = await valuesFile("web:\n  replicas: 3\n");
    expect(await helmFailure("template", "caw", chart, "-f", minimal, "-f", typo)).toContain(
      "replicas",
    );
    for (const name of ["DATABASE_URL", "HOST"]) {
      const clash = await valuesFile(`config:\n  ${name}: postgres://u:p@db/caw\n`);
      expect(await helmFailure("template", "caw", chart, "-f", minimal, "-f", clash)).toContain(
        "config",
      );
    }
  });

  it("has a comment above every top-level and second-level value", async () => {
    const lines = (await readFile(path.join(chart, "values.yaml"), "utf8")).split("\n");
    const undocumented = lines.flatMap((line, index) => {
      const key = /^( {0,2})([A-Za-z]\w*):/.exec(line);
      if (!key) return [];
      const above = lines[index - 1]?.trim() ?? "";
      // A section header (a key whose children are documented) may stand without one.
      const isSection = (lines[index + 1] ?? "").startsWith(`${key[1]}  `) && !line.includes(": ");
      return above.startsWith("#") || isSection ? [] : [line.trim()];
    });
    expect(undocumented).toEqual([]);
  });
});

describe("the Kubernetes schema check", () => {
  it("refuses an unknown field and a wrong type, so the chart test can fail", async () => {
    const [deployment] = (await render(minimal)).filter((m) => m.kind === "Deployment");
    const broken = structuredClone(deployment!);
    broken.spec!.template.spec.containers[0].imagePullPolice = "Always";
    broken.spec!.replicas = "two";
    expect(validator.check(broken).sort()).toEqual([
      "apps/v1 Deployment /spec/replicas: must be integer",
      'apps/v1 Deployment /spec/template/spec/containers/0: unknown field "imagePullPolice"',
    ]);
    expect(validator.check({ apiVersion: "apps/v1", kind: "Deploymnet" })).toEqual([
      "apps/v1 Deploymnet: no such apiVersion and kind in the Kubernetes API",
    ]);
  });
});
