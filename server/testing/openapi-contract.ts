import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { z } from "zod";

// Contract checks of HTTP exchanges against an OpenAPI 3.0 description: the operation by
// path template, the query and body a client sent, and the body a fake answered, read with
// zod's JSON Schema reader. Every check is counted and every mismatch says where it is, so
// a contract test can print "N checks, 0 mismatches" and a drift reads at once.
//
// Answers are checked strictly: an object schema with `properties` and no
// `additionalProperties` gets `additionalProperties: false`, so a fake cannot invent or
// misspell a field. Request bodies are strict too: a client must not send a field the
// description lacks. Overlays add what a provider documented after the description was
// published; they only ever add, never loosen.

export type JsonSchema = Record<string, unknown>;
type Parameter = { name: string; in: string; schema: JsonSchema };
type Content = Record<string, { schema: JsonSchema }>;
export type Operation = {
  description?: string;
  parameters?: Parameter[];
  requestBody?: { content: Content };
  responses: Record<string, { content?: Content }>;
};
export type OpenApiDocument = {
  info: { description: string };
  paths: Record<string, Record<string, Operation>>;
};

/** One request and its answer, as the fakes log them (fake-http.ts LoggedRequest). */
export type Exchange = {
  method: string;
  path: string;
  status: number | "lost";
  query?: string;
  body?: unknown;
  response?: unknown;
};

/** Additions to one schema: `at` names it, `path` walks properties (`[]` for items). */
export type SchemaOverlay = {
  /** `METHOD /template STATUS` for an answer, `METHOD /template body` for a request. */
  at: string;
  path: string[];
  properties: Record<string, JsonSchema>;
  required?: string[];
  /** Where the provider documents the addition, e.g. its changelog entry. */
  source: string;
};

export type ContractOptions = {
  document: OpenApiDocument;
  /** The prefix our clients put before the description's paths, e.g. `/v1`. */
  basePath: string;
  overlays?: SchemaOverlay[];
  /** Error codes documented outside the description, with where, e.g. a client SDK. */
  extraErrorCodes?: Record<string, string>;
  /** The `details` schema the introduction gives for some error codes. */
  errorDetails?: Record<string, JsonSchema>;
  /** Query parameters documented once for every list (paging), and the `meta` it answers. */
  listQuery?: Record<string, JsonSchema>;
  listMeta?: JsonSchema;
};

export async function loadOpenApiDocument(
  specifier: string,
  missingHint: string,
): Promise<OpenApiDocument> {
  let file: string;
  try {
    file = createRequire(import.meta.url).resolve(specifier);
  } catch (error) {
    throw new Error(`${specifier} is missing: ${missingHint}`, { cause: error });
  }
  return JSON.parse(await readFile(file, "utf8")) as OpenApiDocument;
}

export function zodOf(schema: unknown): z.ZodType {
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0], {
    defaultTarget: "openapi-3.0",
  });
}

/** Objects with named properties accept no others, unless the schema says otherwise. */
export function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== "object" || schema === null) return schema;
  const entries = Object.entries(schema).map(([key, value]) => [
    key,
    key === "example" || key === "enum" ? value : strict(value),
  ]);
  const copy = Object.fromEntries(entries) as JsonSchema;
  if (copy.properties && !("additionalProperties" in copy)) copy.additionalProperties = false;
  return copy;
}

export const jsonSchemaOf = (content: Content | undefined) => content?.["application/json"]?.schema;

function applyOverlay(schema: JsonSchema, overlay: SchemaOverlay): JsonSchema {
  const copy = structuredClone(schema);
  let node = copy;
  for (const step of overlay.path) {
    const next =
      step === "[]" ? node.items : (node.properties as Record<string, JsonSchema>)?.[step];
    if (!next) throw new Error(`Overlay ${overlay.at}: no ${overlay.path.join(".")} to extend`);
    node = next as JsonSchema;
  }
  node.properties = { ...(node.properties as object), ...overlay.properties };
  node.required = [
    ...new Set([...((node.required as string[]) ?? []), ...(overlay.required ?? [])]),
  ];
  return copy;
}

/** The values of a template's `{parameters}` in `path`, or undefined when it does not match. */
function matchTemplate(basePath: string, template: string, path: string): string[] | undefined {
  const wanted = `${basePath}${template}`.split("/");
  const got = path.split("/");
  if (wanted.length !== got.length) return undefined;
  const values: string[] = [];
  for (const [index, segment] of wanted.entries()) {
    const value = got[index] ?? "";
    if (segment.startsWith("{")) {
      if (!value) return undefined;
      values.push(decodeURIComponent(value));
    } else if (segment !== value) return undefined;
  }
  return values;
}

/** The description's paths, the fewest parameters first, so literal segments win. */
function templatesOf(document: OpenApiDocument): string[] {
  const count = (template: string) => template.split("{").length;
  return Object.keys(document.paths).sort((a, b) => count(a) - count(b));
}

// The introduction's "Error Codes" table, plus the table of each operation's own codes.
const codeRow = /^\| `([a-z_]+)`\s+\|/gm;
const codesIn = (text: string | undefined) =>
  new Set([...(text ?? "").matchAll(codeRow)].map((match) => match[1]!));

const errorEnvelope = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string(), details: z.unknown() }),
});

type Context = ContractOptions & {
  templates: string[];
  globalCodes: Set<string>;
  validate: (schema: unknown, value: unknown, where: string) => string[];
  count: () => void;
};

function isList(operation: Operation | undefined) {
  const answer = jsonSchemaOf(operation?.responses["200"]?.content);
  const properties = (answer?.properties ?? {}) as Record<string, JsonSchema>;
  return Object.values(properties).some((property) => property.type === "array");
}

function schemaAt(context: Context, name: string, schema: JsonSchema | undefined) {
  if (!schema) return undefined;
  const extended = (context.overlays ?? [])
    .filter((overlay) => overlay.at === name)
    .reduce(applyOverlay, schema);
  return strict(extended) as JsonSchema;
}

function responseSchema(context: Context, method: string, template: string, status: number) {
  const operation = context.document.paths[template]?.[method.toLowerCase()];
  let schema = jsonSchemaOf(operation?.responses[String(status)]?.content);
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  // The introduction documents `meta.pagination` for every list, not each operation.
  if (schema && isList(operation) && context.listMeta && !properties.meta)
    schema = { ...schema, properties: { ...properties, meta: context.listMeta } };
  return schemaAt(context, `${method} ${template} ${status}`, schema);
}

function requestSchema(context: Context, method: string, template: string) {
  const operation = context.document.paths[template]?.[method.toLowerCase()];
  const schema = jsonSchemaOf(operation?.requestBody?.content);
  return schemaAt(context, `${method} ${template} body`, schema);
}

function coerce(schema: JsonSchema, value: string): unknown {
  if (schema.type === "integer" || schema.type === "number") return Number(value);
  if (schema.type === "boolean") return value === "true" ? true : value === "false" ? false : value;
  return value;
}

type Found = { name: string; template: string; operation: Operation; values: string[] };

function checkParameters(context: Context, found: Found, exchange: Exchange): string[] {
  const { name, operation, template, values } = found;
  const parameters = operation.parameters ?? [];
  const pathNames = [...template.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
  const problems = pathNames.flatMap((key, index) => {
    const schema = parameters.find((p) => p.in === "path" && p.name === key)?.schema;
    if (!schema) return [`${name}: path parameter ${key} is not described`];
    return context.validate(schema, coerce(schema, values[index] ?? ""), `${name} {${key}}`);
  });
  const query = new Map(parameters.filter((p) => p.in === "query").map((p) => [p.name, p.schema]));
  for (const [key, value] of new URLSearchParams(exchange.query ?? "")) {
    const schema = query.get(key) ?? (isList(operation) ? context.listQuery?.[key] : undefined);
    if (!schema) problems.push(`${name}: query parameter ${key} is not in the description`);
    else {
      const single = schema.type === "array" ? (schema.items as JsonSchema) : schema;
      problems.push(...context.validate(single, coerce(single, value), `${name} ?${key}`));
    }
  }
  return problems;
}

function checkRequestBody(context: Context, found: Found, exchange: Exchange): string[] {
  const body = requestSchema(context, exchange.method, found.template);
  if (body) return context.validate(body, exchange.body, `${found.name} body`);
  context.count();
  return exchange.body === undefined
    ? []
    : [`${found.name}: sends a body the description does not take`];
}

function checkError(context: Context, found: Found, exchange: Exchange): string[] {
  const where = `${found.name} ${exchange.status}`;
  context.count();
  const envelope = errorEnvelope.safeParse(exchange.response);
  if (!envelope.success)
    return [`${where}: not the documented error shape {error:{code,message,details}}`];
  const { code, details } = envelope.data.error;
  context.count();
  if (!context.globalCodes.has(code) && !codesIn(found.operation.description).has(code))
    return [`${where}: error code ${code} is not documented`];
  // "details: An object providing for details on the error (schema depends on code)".
  const detailsSchema = context.errorDetails?.[code] ?? { type: "object" };
  return context.validate(detailsSchema, details, `${where} ${code} details`);
}

function checkAnswer(context: Context, found: Found, exchange: Exchange): string[] {
  const status = exchange.status as number;
  if (status < 200 || status >= 300) return checkError(context, found, exchange);
  context.count();
  if (!found.operation.responses[String(status)])
    return [`${found.name}: the description has no ${status} answer`];
  const answer = responseSchema(context, exchange.method, found.template, status);
  if (answer) return context.validate(answer, exchange.response, `${found.name} ${status}`);
  return exchange.response === undefined
    ? []
    : [`${found.name} ${status}: answers a body the description lacks`];
}

/** Every way `value` differs from `schema`, each with where it is. */
function mismatchesOf(schema: unknown, value: unknown, where: string): string[] {
  const result = zodOf(schema).safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((issue) => {
    const keys = "keys" in issue ? `: ${(issue.keys as string[]).join(", ")}` : "";
    return `${where} ${issue.path.join(".") || "(root)"}: ${issue.message}${keys}`;
  });
}

export function createContractChecker(options: ContractOptions) {
  let checks = 0;
  const seen = new Set<string>();
  const globalCodes = codesIn(options.document.info.description.split("### Error Codes")[1]);
  for (const code of Object.keys(options.extraErrorCodes ?? {})) globalCodes.add(code);
  const context: Context = {
    ...options,
    templates: templatesOf(options.document),
    globalCodes,
    count: () => (checks += 1),
    validate: (schema, value, where) => {
      checks += 1;
      return mismatchesOf(schema, value, where);
    },
  };

  function operationOf(method: string, path: string): Found | undefined {
    for (const template of context.templates) {
      const values = matchTemplate(options.basePath, template, path);
      const operation = options.document.paths[template]?.[method.toLowerCase()];
      if (values && operation)
        return { name: `${method} ${template}`, template, operation, values };
    }
    return undefined;
  }

  /** Every mismatch of one exchange; `request: false` checks the answer only. */
  function checkExchange(exchange: Exchange, how: { request?: boolean } = {}): string[] {
    checks += 1;
    const found = operationOf(exchange.method, exchange.path);
    if (!found)
      return [`${exchange.method} ${exchange.path}: no such operation in the description`];
    if (exchange.status === "lost") return [];
    seen.add(`${found.name} ${exchange.status}`);
    const request =
      how.request === false
        ? []
        : [
            ...checkParameters(context, found, exchange),
            ...checkRequestBody(context, found, exchange),
          ];
    return [...request, ...checkAnswer(context, found, exchange)];
  }

  return {
    checkExchange,
    operationOf,
    validate: context.validate,
    requestSchema: (method: string, template: string) => requestSchema(context, method, template),
    responseSchema: (method: string, template: string, status: number) =>
      responseSchema(context, method, template, status),
    /** `METHOD /template STATUS` of every exchange checked so far. */
    seen,
    get checks() {
      return checks;
    },
  };
}

export type ContractChecker = ReturnType<typeof createContractChecker>;
