#!/usr/bin/env bash
# The consumer app (test/consumer/) against automagik-db as its users get it: builds the package,
# packs it (`npm pack`), copies this app to a temporary folder, installs the tarball there, and
# runs what a team would: the CLI's `migrate latest|status|down` with the app's migrations folder,
# `codegen` (the result must equal the committed src/generated/database.ts), `tsc --noEmit`
# (strict, skipLibCheck false: the package's declarations and the bad-patch compile errors of
# test/type-errors.ts), the compiled app on plain Node, and the app's vitest suite, on embedded
# PGlite and, when TEST_DATABASE_URL is set, on that server (in a database it creates and drops).
# Exits non-zero on any failure. Used by .ci/run.
#
#   bash test/consumer/run.sh [--no-build] [--pglite-only] [--update-types] [--keep]
#
#   --no-build       use the existing dist/ (CI has just built it)
#   --pglite-only    skip the server, even with TEST_DATABASE_URL set
#   --update-types   copy the freshly generated database.ts back into test/consumer/src/generated/
#   --keep           keep the temporary folder (its path is printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build=1 pglite_only=0 update_types=0 keep=0
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --pglite-only) pglite_only=1 ;;
    --update-types) update_types=1 ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

step() { echo "== consumer: $*"; }
fail() { echo "FAIL (consumer): $*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/amdb-consumer.XXXXXX")"
app="$work/app"
server_db=""
# Runs in $app with the app's own node_modules: `pg` comes with automagik-db. Prints nothing of the URL.
admin_sql() {
  (cd "$app" && node -e '
    const pg = require("pg")
    const [url, statement] = process.argv.slice(1)
    const client = new pg.Client({ connectionString: url })
    client.connect().then(() => client.query(statement)).finally(() => client.end())
      .catch((err) => { console.error(`${statement}: ${err.message}`); process.exit(1) })
  ' "$1" "$2")
}
cleanup() {
  local rc=$?
  if [ -n "$server_db" ]; then admin_sql "$TEST_DATABASE_URL" "DROP DATABASE IF EXISTS $server_db WITH (FORCE)" || rc=1; fi
  if [ "$keep" = 1 ]; then echo "== consumer: kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
# The PGlite steps must not reach a server by accident.
unset DATABASE_URL

step "node $(node --version), npm $(npm --version)"
if [ "$build" = 1 ]; then
  step "build automagik-db"
  (cd "$root" && npm run build --silent)
fi
[ -f "$root/dist/src/index.js" ] || fail "no build in $root/dist: run npm run build (or drop --no-build)"

step "npm pack"
mkdir "$work/pack"
tarball="$(cd "$root" && npm pack --json --pack-destination "$work/pack" | node -e '
  process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename)')"
tarball="$work/pack/$(basename "$tarball")"
[ -f "$tarball" ] || fail "npm pack wrote no tarball"
echo "$(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) files"

step "copy the app to $app"
mkdir "$app"
(cd "$here" && tar --exclude=./node_modules --exclude=./dist -cf - .) | (cd "$app" && tar -xf -)
cd "$app"
# Its devDependencies (and kysely) at the versions the repository uses, so that npm finds them in
# its cache, and the app is tested with the toolchain the package is.
node -e '
  const fs = require("fs")
  const [rootFile, appFile] = process.argv.slice(1)
  const root = JSON.parse(fs.readFileSync(rootFile, "utf8"))
  const app = JSON.parse(fs.readFileSync(appFile, "utf8"))
  const versions = { ...root.dependencies, ...root.devDependencies }
  for (const section of ["dependencies", "devDependencies"]) {
    for (const name of Object.keys(app[section] ?? {})) {
      if (versions[name] !== undefined && versions[name] !== app[section][name]) {
        console.log(`${name}: ${app[section][name]} -> ${versions[name]} (the repository'"'"'s)`)
        app[section][name] = versions[name]
      }
    }
  }
  fs.writeFileSync(appFile, JSON.stringify(app, null, 2) + "\n")
' "$root/package.json" package.json

step "npm install (the tarball, the app's dependencies)"
npm install --prefer-offline --no-audit --no-fund --loglevel=error "$tarball"
echo "installed automagik-db $(node -p 'JSON.parse(require("fs").readFileSync("node_modules/automagik-db/package.json", "utf8")).version') from $(basename "$tarball")"

data="$work/data"
cli() { npx automagik-db "$@"; }
# True when a `migrate status` table has a row whose APPLIED AT is "pending".
pending_rows() { grep -Eq '^[^ ]+ +(automagik-db|app) +pending' <<<"$1"; }

step "automagik-db migrate (embedded PGlite in a data dir)"
out="$(cli migrate latest --data-dir "$data" --migrations ./migrations)" || fail "migrate latest failed: $out"
echo "$out"
grep -q '0001-feedback' <<<"$out" || fail "migrate latest did not report the app's migration 0001-feedback"
out="$(cli migrate status --data-dir "$data" --migrations ./migrations)" || fail "migrate status failed: $out"
echo "$out"
grep -Eq '^0001-feedback +app +[0-9]{4}-' <<<"$out" || fail "migrate status does not list 0001-feedback as the app's, applied"
pending_rows "$out" && fail "migrate status shows a pending migration after migrate latest"
cli migrate latest --data-dir "$data" --migrations ./migrations >/dev/null || fail "a second migrate latest (nothing to do) failed"
out="$(cli migrate down --data-dir "$data" --migrations ./migrations)" || fail "migrate down failed: $out"
echo "$out"
grep -q '0001-feedback' <<<"$out" || fail "migrate down did not revert the latest migration, the app's 0001-feedback"
out="$(cli migrate status --data-dir "$data" --migrations ./migrations)" || fail "migrate status failed: $out"
grep -Eq '^0001-feedback +app +pending' <<<"$out" || fail "after migrate down, status does not show 0001-feedback pending: $out"
cli migrate latest --data-dir "$data" --migrations ./migrations >/dev/null || fail "migrate latest after down failed"
if out="$(cli migrate latest --data-dir "$data" --migrations ./no-such-folder 2>&1)"; then
  fail "migrate with a missing --migrations folder exited 0"
fi
grep -q -- '--migrations' <<<"$out" || fail "the error for a missing --migrations folder does not name the flag: $out"

step "automagik-db codegen"
cp src/generated/database.ts "$work/committed-database.ts"
cli codegen --out src/generated/database.ts --migrations ./migrations
grep -q 'feedback: Feedback' src/generated/database.ts || fail "the generated Database has no feedback table"
grep -Eq '^  team: string \| null;' src/generated/database.ts || fail "the generated Agents has no team column"
if [ "$update_types" = 1 ]; then
  cp src/generated/database.ts "$here/src/generated/database.ts"
  echo "updated test/consumer/src/generated/database.ts"
elif ! diff -u "$work/committed-database.ts" src/generated/database.ts; then
  fail "test/consumer/src/generated/database.ts is stale: run bash test/consumer/run.sh --update-types"
fi

step "tsc --noEmit (strict, skipLibCheck false; test/type-errors.ts must stay errors)"
grep -q '"skipLibCheck": false' tsconfig.json || fail "tsconfig.json must keep skipLibCheck false"
npx tsc --noEmit

step "the compiled app on plain Node (PGlite data dir migrated by the CLI)"
npx tsc -p tsconfig.build.json
out="$(node dist/main.js --data-dir "$data")" || fail "dist/main.js failed: $out"
echo "$out"
grep -q '"ratings":1,"average":5' <<<"$out" || fail "dist/main.js did not report the rating it wrote"

step "vitest on embedded PGlite"
env -u TEST_DATABASE_URL npx vitest run

if [ "$pglite_only" = 0 ] && [ -n "${TEST_DATABASE_URL:-}" ]; then
  server_db="amdb_consumer_$$_$(node -p 'require("crypto").randomBytes(4).toString("hex")')"
  server_url="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; process.stdout.write(u.href)' "$TEST_DATABASE_URL" "$server_db")"
  step "automagik-db migrate on PostgreSQL (database $server_db)"
  admin_sql "$TEST_DATABASE_URL" "CREATE DATABASE $server_db"
  out="$(cli migrate latest --url "$server_url" --migrations ./migrations)" || fail "migrate latest --url failed: $out"
  echo "$out"
  grep -q '0001-feedback' <<<"$out" || fail "migrate latest --url did not report 0001-feedback"
  out="$(cli migrate status --url "$server_url" --migrations ./migrations)" || fail "migrate status --url failed: $out"
  echo "$out"
  pending_rows "$out" && fail "migrate status --url shows a pending migration after migrate latest"
  out="$(DATABASE_URL="$server_url" cli migrate status --migrations ./migrations)" || fail "migrate status with DATABASE_URL failed: $out"

  step "the compiled app on plain Node (PostgreSQL, DATABASE_URL)"
  out="$(DATABASE_URL="$server_url" node dist/main.js)" || fail "dist/main.js on the server failed: $out"
  echo "$out"
  grep -q '"ratings":1,"average":5' <<<"$out" || fail "dist/main.js did not report the rating it wrote on the server"

  step "vitest on PostgreSQL"
  npx vitest run
fi

step "passed"
