#!/usr/bin/env bash
# npm test (and CI through .ci/run): services, proto lint, generated code up to date, typecheck, compose
# files valid, then every vitest test (unit + integration + short chaos). All checks run even after one
# fails, so one run shows every problem; the exit status is non-zero if any failed.

# Step functions are called through run_step, which shellcheck cannot follow.
# shellcheck disable=SC2317
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n[test] ==> %s\n' "$*"; }
declare -a results=()
failed=0
record() { # name, status
  if [[ $2 == 0 ]]; then
    results+=("ok      $1")
  else
    results+=("FAILED  $1")
    failed=1
  fi
}
run_step() { # name, command...
  local name=$1 status=0
  shift
  say "$name"
  "$@" || status=$?
  record "$name" "$status"
}

mkdir -p test-artifacts

say "services and node_modules"
bash scripts/ensure-services.sh

BIN=$PWD/node_modules/.bin

run_step "buf lint" "$BIN/buf" lint

# Regenerates into a scratch copy and compares: the working tree is never touched, so a passing run
# leaves no diff behind and a failing one shows exactly which generated files are stale.
check_generated() {
  local tmp status=0 out
  tmp=$(mktemp -d)
  cp -r proto buf.yaml buf.gen.yaml "$tmp"/
  if [[ -f buf.lock ]]; then cp buf.lock "$tmp"/; fi
  ln -s "$PWD/node_modules" "$tmp/node_modules"
  if ! (cd "$tmp" && "$BIN/buf" generate); then
    rm -rf "$tmp"
    return 1
  fi
  while read -r out; do
    if ! diff -r -q "$out" "$tmp/$out"; then
      echo "[test] ${out}/ is stale: run 'npx buf generate' and commit the result." >&2
      status=1
    fi
  done < <(sed -nE 's/^[[:space:]]*out:[[:space:]]*"?([^"[:space:]]+)"?.*/\1/p' buf.gen.yaml | sort -u)
  rm -rf "$tmp"
  return "$status"
}
run_step "generated code matches proto/" check_generated

run_step "tsc --noEmit" "$BIN/tsc" --noEmit -p tsconfig.json

if command -v docker-compose >/dev/null 2>&1; then
  validate_compose() {
    local f status=0
    for f in docker-compose.yml docker-compose.scale.yml; do
      if [[ -f $f ]]; then docker-compose -f "$f" config -q || status=1; fi
    done
    return "$status"
  }
  run_step "docker-compose config" validate_compose
fi

# Browser tests need Chromium; install Debian's when we can, otherwise tell the tests to skip.
if [[ -z ${NOTIFY_SKIP_BROWSER:-} ]] && ! command -v chromium >/dev/null 2>&1; then
  say "installing chromium for browser tests"
  if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
    {
      apt-get -o DPkg::Lock::Timeout=300 update &&
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y chromium
    } >test-artifacts/apt-chromium.log 2>&1 || true
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    cat >&2 <<'EOF'

  ################################################################################
  #  CHROMIUM IS NOT AVAILABLE: browser tests will be SKIPPED (NOTIFY_SKIP_BROWSER=1). #
  #  Install it with: apt-get update && apt-get install -y chromium               #
  #  (see test-artifacts/apt-chromium.log for the failed attempt)                 #
  ################################################################################

EOF
    export NOTIFY_SKIP_BROWSER=1
  fi
fi

say "vitest"
vitest_status=0
rm -f test-artifacts/vitest-results.json
"$BIN/vitest" run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest-results.json ||
  vitest_status=$?
record "vitest" "$vitest_status"

say "summary"
printf '  %s\n' "${results[@]}"
# One plain closing line with the test counts, read by CI.
if [[ -f test-artifacts/vitest-results.json ]]; then
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    // A file that fails to load has no failed test but must still count as a failure.
    const brokenFiles = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.every((a) => a.status !== "failed")).length;
    if (brokenFiles) console.log(`  (${brokenFiles} test file(s) failed outside any test)`);
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' test-artifacts/vitest-results.json
fi
exit "$failed"
