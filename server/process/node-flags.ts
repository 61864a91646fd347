// The Node flags of both server programs: `npm start` passes them (server/start.ts), the image
// sets them as NODE_OPTIONS (Dockerfile, checked by deploy/image/dockerfile.test.ts) and the
// HTTP bench starts the web program with them. `npm run web` and `npm run worker` do not pass
// them yet (package.json): there they run with Node's defaults unless NODE_OPTIONS says so.
//
// A young generation of up to 64 MB a half-space (V8's default is 16): a tRPC call's objects
// live for the whole call, ~10 ms under load, so with the default most survive two minor
// collections and are promoted, and the old generation, which in the web program holds the
// whole Remix build, is then marked and swept far more often. With 64 MB a call's objects
// die young: ~12 % less CPU a call in the bench (ADR 0029), for up to ~100 MB more memory
// a process under load, and none at rest.
export const serverNodeFlags: readonly string[] = ["--max-semi-space-size=64"];
