import { describe, expect, it } from "vitest";
import { loginEnvironment, readAgentConfig, readCliEnvironment } from "./config.ts";

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

  it("gives another account (WORKSPACE_USER) the login PATH, not the root agent's", () => {
    const environment = loginEnvironment({ PATH: "/root/bin:/usr/sbin" }, account, {
      loginPath: true,
    });
    expect(environment.PATH).toBe("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  });

  it("gives a usable PATH and a UTF-8 locale when the agent was started without them", () => {
    const environment = loginEnvironment({}, { ...account, shell: null });
    expect(environment.PATH).toContain("/usr/bin");
    expect(environment.LANG).toBe("C.UTF-8");
    expect(environment.SHELL).toBe("/bin/bash");
  });
});

describe("readAgentConfig: WORKSPACE_USER", () => {
  const base = {
    CONTROL_PLANE_URL: "https://cp.example",
    WORKSPACE_ID: "00000000-0000-4000-8000-000000000001",
    BOOTSTRAP_TOKEN: "cawb_x",
  };

  it("is optional (the one-machine mode) and takes an OS user name", () => {
    expect(readAgentConfig(base).WORKSPACE_USER).toBeUndefined();
    expect(readAgentConfig({ ...base, WORKSPACE_USER: "workspace" })).toMatchObject({
      WORKSPACE_USER: "workspace",
      AGENT_RUNTIME_DIR: "/run/cloud-ai-workspaces-agent",
    });
  });

  it("refuses what is not a user name", () => {
    expect(() => readAgentConfig({ ...base, WORKSPACE_USER: "../root" })).toThrow(
      /WORKSPACE_USER: expected an OS user name/,
    );
  });
});

describe("readCliEnvironment", () => {
  it("takes the socket, the session and the pane from the shell, with the VM's socket as fallback", () => {
    expect(
      readCliEnvironment({
        CAW_CONTROL_SOCKET: "/srv/ws/state/run/control.sock",
        CAW_SESSION: "claude",
        TMUX_PANE: "%3",
        HOME: "/home/workspace",
      }),
    ).toEqual({
      socketPath: "/srv/ws/state/run/control.sock",
      session: "claude",
      pane: "%3",
      home: "/home/workspace",
    });
    expect(readCliEnvironment({ CAW_SESSION: "" })).toEqual({
      socketPath: "/run/cloud-ai-workspaces-agent/control.sock",
      session: null,
      pane: null,
      home: "",
    });
  });
});
