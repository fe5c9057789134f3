#!/usr/bin/env bash
# Compiles the TypeScript tree into dist/ and copies the files tsc does not emit (SQL migrations).
# Run from anywhere: bash scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# A clean dist/: files of deleted or renamed sources must not linger and still run.
rm -rf dist
node_modules/.bin/tsc -p tsconfig.json

mkdir -p dist/internal/store/migrations
shopt -s nullglob
migrations=(internal/store/migrations/*.sql)
if ((${#migrations[@]} > 0)); then
  cp "${migrations[@]}" dist/internal/store/migrations/
fi
# The admin panel's bundle, when the project defines how to build it (root script "build:admin").
npm run --silent --if-present build:admin

echo "[build] dist/ ready (${#migrations[@]} migrations copied)"
