import { beforeAll, describe, expect, it } from "vitest";
import { hetznerContractOptions, loadHetznerDescription } from "./hetzner-description.ts";
import { createContractChecker, type ContractChecker } from "./openapi-contract.ts";

// The checker itself: each kind of drift it exists to catch, caught and said where.

let checker: ContractChecker;
beforeAll(async () => {
  checker = createContractChecker(hetznerContractOptions(await loadHetznerDescription()));
});

const action = {
  id: 1,
  command: "create_server",
  status: "running",
  progress: 0,
  started: "2026-01-01T00:00:00+00:00",
  finished: null,
  resources: [{ id: 2, type: "server" }],
  error: null,
};
const ok = { method: "GET", path: "/v1/actions/1", status: 200, response: { action } };

describe("the OpenAPI contract checker", () => {
  it("passes a described exchange and counts its checks", () => {
    const before = checker.checks;
    expect(checker.checkExchange(ok)).toEqual([]);
    expect(checker.checks).toBeGreaterThan(before);
    expect(checker.seen).toContain("GET /actions/{id} 200");
  });

  it("names an operation the description lacks, and a wrong path parameter", () => {
    expect(checker.checkExchange({ ...ok, path: "/v1/actionz/1" })).toEqual([
      "GET /v1/actionz/1: no such operation in the description",
    ]);
    expect(checker.checkExchange({ ...ok, path: "/v1/actions/abc" })[0]).toMatch(
      /^GET \/actions\/\{id\} \{id\}/,
    );
  });

  it("refuses an undocumented query parameter, and paging only on lists", () => {
    expect(checker.checkExchange({ ...ok, query: "colour=red" })).toEqual([
      "GET /actions/{id}: query parameter colour is not in the description",
    ]);
    expect(checker.checkExchange({ ...ok, query: "per_page=50" })).toHaveLength(1);
    const list = { method: "GET", path: "/v1/servers", status: 200, query: "per_page=51" };
    expect(checker.checkExchange(list).join()).toMatch(/\?per_page/);
  });

  it("refuses a renamed field, a missing one and a wrong type in an answer", () => {
    const { status, ...rest } = action;
    const renamed = { ...ok, response: { action: { ...rest, state: status } } };
    expect(checker.checkExchange(renamed)).toEqual([
      'GET /actions/{id} 200 action.status: Invalid option: expected one of "success"|"running"|"error"',
      'GET /actions/{id} 200 action: Unrecognized key: "state": state',
    ]);
    const wrongType = { ...ok, response: { action: { ...action, id: "1" } } };
    expect(checker.checkExchange(wrongType)[0]).toMatch(/action\.id/);
  });

  it("refuses an undocumented body field and a body where none is taken", () => {
    const detach = { method: "POST", path: "/v1/volumes/1/actions/detach", status: 201 };
    expect(checker.checkExchange({ ...detach, body: {}, response: { action } })).toEqual([
      "POST /volumes/{id}/actions/detach: sends a body the description does not take",
    ]);
    const create = {
      method: "POST",
      path: "/v1/volumes",
      status: 422,
      body: { name: "a", size: 10, colour: "red" },
    };
    const response = {
      error: {
        code: "invalid_input",
        message: "x",
        details: { fields: [{ name: "size", messages: ["x"] }] },
      },
    };
    expect(checker.checkExchange({ ...create, response })).toEqual([
      'POST /volumes body (root): Unrecognized key: "colour": colour',
    ]);
  });

  it("refuses an error without Hetzner's shape, an undocumented code or wrong details", () => {
    const error = (body: unknown) => ({ ...ok, status: 404, response: body });
    expect(checker.checkExchange(error({ message: "gone" }))[0]).toMatch(
      /not the documented error shape/,
    );
    const code = { error: { code: "gone", message: "x", details: {} } };
    expect(checker.checkExchange(error(code))).toEqual([
      "GET /actions/{id} 404: error code gone is not documented",
    ]);
    const details = { error: { code: "not_found", message: "x", details: null } };
    expect(checker.checkExchange(error(details))[0]).toMatch(/not_found details/);
    const fields = { error: { code: "invalid_input", message: "x", details: { fields: [{}] } } };
    expect(checker.checkExchange(error(fields))[0]).toMatch(
      /invalid_input details fields\.0\.name/,
    );
  });
});
