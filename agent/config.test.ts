import { describe, expect, it } from "vitest";
import { loginEnvironment } from "./config.ts";

// Shells get what login(1) would give the agent's OS user, not the agent's own environment:
// on a VM that holds the env file's settings (AGENT_SHA256, VOLUME_ID, the bootstrap token).
describe("loginEnvironment", () => {
  const account = { username: "workspace", homedir: "/home/workspace", shell: "/bin/bash" };

  it("sets HOME, USER, LOGNAME and SHELL from the account and keeps only PATH, the locale and the network settings", () => {
    const environment = loginEnvironment(
      {
        PATH: "/opt/bin:/usr/bin",
        LANG: "de_DE.UTF-8",
        HTTPS_PROXY: "http://proxy:3128",
        GIT_SSL_CAINFO: "/etc/ssl/ghes.pem",
        BOOTSTRAP_TOKEN: "cawb_secret",
        AGENT_SHA256: "ab".repeat(32),
        VOLUME_ID: "42",
        CONTROL_PLANE_URL: "https://cp.example",
        INVOCATION_ID: "systemd",
        HOME: "/root",
      },
      account,
    );
    expect(environment).toEqual({
      PATH: "/opt/bin:/usr/bin",
      LANG: "de_DE.UTF-8",
      HTTPS_PROXY: "http://proxy:3128",
      GIT_SSL_CAINFO: "/etc/ssl/ghes.pem",
      HOME: "/home/workspace",
      USER: "workspace",
      LOGNAME: "workspace",
      SHELL: "/bin/bash",
    });
  });

  it("gives a usable PATH and a UTF-8 locale when the agent was started without them", () => {
    const environment = loginEnvironment({}, { ...account, shell: null });
    expect(environment.PATH).toContain("/usr/bin");
    expect(environment.LANG).toBe("C.UTF-8");
    expect(environment.SHELL).toBe("/bin/bash");
  });
});
