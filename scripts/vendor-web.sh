#!/usr/bin/env bash
# Re-fetch the web front's vendored static files at their pinned versions (npm pack: no
# JavaScript build, no node_modules). Run from anywhere; commit what changes.
set -euo pipefail
cd "$(dirname "$0")/.."
STATIC=casework/web/static/vendor
TESTS=tests/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# package@version  file-in-package  destination-folder
fetch() {
  local spec=$1 dest=$2; shift 2
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  local tgz
  tgz=$(ls "$work"/*.tgz)
  mkdir -p "$dest"
  tar -xzf "$tgz" -C "$work"
  for file in "$@"; do cp "$work/package/$file" "$dest/"; done
  rm -rf "$work/package" "$tgz"
  echo "$spec -> $dest: $*"
}

# NL Design System: the City of Amsterdam's components (CSS only) and design tokens.
fetch @amsterdam/design-system-css@4.5.0 "$STATIC/amsterdam-design-system-css" \
  dist/index.css LICENSE.md
fetch @amsterdam/design-system-tokens@4.4.0 "$STATIC/amsterdam-design-system-tokens" \
  dist/index.css LICENSE.md
# axe-core for the browser tests' accessibility checks (not served to users).
fetch axe-core@4.14.1 "$TESTS/axe-core" axe.min.js LICENSE
