import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  authorize,
  createPkcePair,
  exchangeCode,
  postAuthorizeForm,
  redirectUri,
  startTestStandIn,
  type TestStandIn,
} from "./test-helpers.ts";

let stand: TestStandIn;
beforeAll(async () => {
  stand = await startTestStandIn();
});
afterAll(() => stand.stop());

function authorizeUrl(params: Record<string, string>): string {
  const url = new URL(`${stand.standIn.url}/login/oauth/authorize`);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

describe("the sign-in page", () => {
  it("says it is a stand-in and offers a login field and known logins", async () => {
    await authorize(stand.standIn, { login: "known-user" });
    const response = await fetch(
      authorizeUrl({
        client_id: stand.standIn.clientId,
        redirect_uri: redirectUri,
        state: '"><script>alert(1)</script>',
        scope: "read:user",
      }),
    );
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(html).toContain("<title>Sign in to GitHub stand-in</title>");
    expect(html).toContain("This is a development stand-in, not GitHub.");
    expect(html).toMatch(
      /<label for="login">GitHub login<\/label>\s*<input id="login" name="login"/,
    );
    expect(html).toContain(">Authorize</button>");
    expect(html).toContain("Known logins: <code>known-user</code>");
    expect(html).toMatch(/<input id="password" name="password" type="password"/);
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).not.toContain("<script>");
  });

  it("keeps the password of a login's first sign-in and refuses any other, so no one else becomes that login", async () => {
    const first = await postAuthorizeForm(stand.standIn, {
      login: "owner",
      password: "first-pick",
    });
    expect(first.status).toBe(302);
    for (const password of ["guessed", ""]) {
      const other = await postAuthorizeForm(stand.standIn, { login: "Owner", password });
      expect(other.status).toBe(401);
      expect(other.headers.get("location")).toBeNull();
      const page = await other.text();
      expect(page).toMatch(password ? /Wrong password for Owner/ : /Enter a password/);
      expect(page).not.toContain("first-pick");
    }
    const again = await postAuthorizeForm(stand.standIn, {
      login: "OWNER",
      password: "first-pick",
    });
    expect(again.status).toBe(302);
  });

  it.each([
    [{ redirect_uri: redirectUri }, "client_id parameter is missing"],
    [{ client_id: "Iv1.0000000000000000", redirect_uri: redirectUri }, "is not the OAuth client"],
    [{ client_id: "CLIENT" }, "redirect_uri parameter is missing"],
    [{ client_id: "CLIENT", redirect_uri: "javascript:alert(1)" }, "absolute http:// or https://"],
    [
      { client_id: "CLIENT", redirect_uri: redirectUri, code_challenge: "a".repeat(43) },
      "code_challenge_method parameter must be S256",
    ],
  ])("refuses %j with a 400 page naming the parameter", async (params, message) => {
    const withClient = Object.fromEntries(
      Object.entries(params).map(([name, value]) => [
        name,
        value === "CLIENT" ? stand.standIn.clientId : value,
      ]),
    );
    const response = await fetch(authorizeUrl(withClient));
    expect(response.status).toBe(400);
    expect(await response.text()).toContain(message);
  });

  it("refuses logins GitHub would refuse", async () => {
    for (const login of ["-alice", "alice-", "al--ice", "a".repeat(40), "al ice", ""]) {
      const response = await postAuthorizeForm(stand.standIn, { login });
      expect(response.status, login).toBe(400);
      expect(await response.text()).toContain("is not a valid GitHub login");
    }
  });

  it("redirects back to the application with a code and the state", async () => {
    const response = await postAuthorizeForm(stand.standIn, { login: "bob", state: "s 1" });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("location") ?? "");
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.searchParams.get("state")).toBe("s 1");
    expect(location.searchParams.get("code")).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe("the code exchange", () => {
  it("answers a form request with form text and a JSON request with JSON", async () => {
    const formCode = await authorize(stand.standIn, { login: "carol", scope: "repo user:email" });
    const formAnswer = await fetch(`${stand.standIn.url}/login/oauth/access_token`, {
      method: "POST",
      body: new URLSearchParams({
        client_id: stand.standIn.clientId,
        client_secret: stand.standIn.clientSecret,
        code: formCode,
      }),
    });
    expect(formAnswer.headers.get("content-type")).toContain("application/x-www-form-urlencoded");
    const fields = new URLSearchParams(await formAnswer.text());
    expect(fields.get("access_token")).toMatch(/^gho_[A-Za-z0-9]{36}$/);
    expect(fields.get("token_type")).toBe("bearer");
    expect(fields.get("scope")).toBe("repo,user:email");

    const jsonCode = await authorize(stand.standIn, { login: "carol", scope: "" });
    const jsonAnswer = await fetch(`${stand.standIn.url}/login/oauth/access_token`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        client_id: stand.standIn.clientId,
        client_secret: stand.standIn.clientSecret,
        code: jsonCode,
        redirect_uri: redirectUri,
      }),
    });
    expect(jsonAnswer.headers.get("content-type")).toContain("application/json");
    expect(await jsonAnswer.json()).toEqual({
      access_token: expect.stringMatching(/^gho_[A-Za-z0-9]{36}$/),
      token_type: "bearer",
      scope: "",
    });
  });

  it("takes client credentials from a Basic header, as arctic sends them", async () => {
    const code = await authorize(stand.standIn, { login: "dave" });
    const basic = Buffer.from(`${stand.standIn.clientId}:${stand.standIn.clientSecret}`);
    const response = await fetch(`${stand.standIn.url}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json", authorization: `Basic ${basic.toString("base64")}` },
      body: new URLSearchParams({ grant_type: "authorization_code", code }),
    });
    expect(await response.json()).toMatchObject({ token_type: "bearer" });
  });

  it("accepts a matching PKCE verifier and refuses another one", async () => {
    const pkce = createPkcePair();
    const good = await authorize(stand.standIn, { login: "erin", codeChallenge: pkce.challenge });
    expect(
      await exchangeCode(stand.standIn, { code: good, code_verifier: pkce.verifier }),
    ).toHaveProperty("access_token");
    const bad = await authorize(stand.standIn, { login: "erin", codeChallenge: pkce.challenge });
    const other = createPkcePair().verifier;
    expect(await exchangeCode(stand.standIn, { code: bad, code_verifier: other })).toEqual({
      error: "bad_verification_code",
      error_description: "The code passed is incorrect or expired.",
      error_uri: expect.stringContaining("docs.github.com"),
    });
    const missing = await authorize(stand.standIn, {
      login: "erin",
      codeChallenge: pkce.challenge,
    });
    expect(await exchangeCode(stand.standIn, { code: missing })).toMatchObject({
      error: "bad_verification_code",
    });
  });

  it("accepts a code once", async () => {
    const code = await authorize(stand.standIn, { login: "frank" });
    expect(await exchangeCode(stand.standIn, { code })).toHaveProperty("access_token");
    const again = await exchangeCode(stand.standIn, { code });
    expect(again).toMatchObject({ error: "bad_verification_code" });
    expect(again).not.toHaveProperty("access_token");
  });

  it("refuses a wrong client secret with HTTP 200, like GitHub", async () => {
    const code = await authorize(stand.standIn, { login: "grace" });
    const response = await fetch(`${stand.standIn.url}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json" },
      body: new URLSearchParams({
        client_id: stand.standIn.clientId,
        client_secret: "0".repeat(40),
        code,
      }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      error: "incorrect_client_credentials",
      error_description: "The client_id and/or client_secret passed are incorrect.",
      error_uri: expect.stringContaining("docs.github.com"),
    });
  });

  it("refuses a redirect_uri other than the one used to authorize", async () => {
    const code = await authorize(stand.standIn, { login: "heidi" });
    const answer = await exchangeCode(stand.standIn, {
      code,
      redirect_uri: "http://127.0.0.1:9/elsewhere",
    });
    expect(answer).toMatchObject({ error: "redirect_uri_mismatch" });
  });

  describe("after ten minutes", () => {
    afterEach(() => vi.useRealTimers());

    it("refuses the code as expired", async () => {
      const code = await authorize(stand.standIn, { login: "ivan" });
      vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 10 * 60 * 1000 + 1 });
      expect(await exchangeCode(stand.standIn, { code })).toMatchObject({
        error: "bad_verification_code",
      });
    });
  });
});
