// The Node flags both server programs run with, wherever they run: `npm start` passes them
// (server/start.ts), `npm run web` and `npm run worker` too (package.json), the image sets
// them as NODE_OPTIONS (Dockerfile) and the HTTP bench starts the web program with them. The
// copies in package.json and the Dockerfile are checked by node-flags.test.ts and
// deploy/image/dockerfile.test.ts.
//
// A young generation of up to 64 MB a half-space (V8's default is 16): a tRPC call's objects
// live for the whole call, ~10 ms under load, so with the default most survive two minor
// collections and are promoted, and the old generation, which in the web program holds the
// whole Remix build, is then marked and swept far more often. With 64 MB a call's objects
// die young: ~12 % less CPU a call in the bench (ADR 0029), for up to ~100 MB more memory
// a process under load, and none at rest.
export const serverNodeFlags: readonly string[] = ["--max-semi-space-size=64"];
