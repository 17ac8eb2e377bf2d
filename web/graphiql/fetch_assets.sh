#!/usr/bin/env bash
# Re-fetch GraphiQL's browser assets from the npm registry into server/static/graphiql/ and rewrite manifest.json
# (each file's package, version and sha256). Run it deliberately to update them, then commit the result; the page
# (server/graphiql.py) serves only what the manifest lists, with Subresource Integrity, so rdflow needs no CDN.
# The versions are strawberry's own GraphiQL template's (.venv/.../strawberry/static/graphiql.html).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=server/static/graphiql

# <package>@<version> <file inside the package> <name served>
assets=(
  "react@18.2.0 umd/react.production.min.js react-18.2.0.production.min.js"
  "react-dom@18.2.0 umd/react-dom.production.min.js react-dom-18.2.0.production.min.js"
  "graphiql@3.8.3 graphiql.min.js graphiql-3.8.3.min.js"
  "graphiql@3.8.3 graphiql.min.css graphiql-3.8.3.min.css"
  "@graphiql/plugin-explorer@1.0.2 dist/index.umd.js plugin-explorer-1.0.2.umd.js"
  "@graphiql/plugin-explorer@1.0.2 dist/style.css plugin-explorer-1.0.2.css"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"
entries=()
for asset in "${assets[@]}"; do
  read -r spec source name <<<"$asset"
  dir="$work/$(echo "$spec" | tr '/@' '__')"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "$spec")
    tar -xzf "$dir/$tarball" -C "$dir"
  fi
  cp "$dir/package/$source" "$out/$name"
  sha=$(sha256sum "$out/$name" | cut -d' ' -f1)
  entries+=("$(printf '    "%s": {"package": "%s", "source": "%s", "sha256": "%s"}' "$name" "$spec" "$source" "$sha")")
done
{
  echo '{'
  echo '  "files": {'
  for i in "${!entries[@]}"; do
    [ "$i" -lt $((${#entries[@]} - 1)) ] && echo "${entries[$i]}," || echo "${entries[$i]}"
  done
  echo '  }'
  echo '}'
} >"$out/manifest.json"
echo "fetched ${#entries[@]} files into $out; review and commit them with manifest.json"
