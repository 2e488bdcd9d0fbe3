# Shared by the bench scripts (source it): tool installs, the bench API key, the wrk driver.

# Installs wrk and curl when missing (Debian packages).
bench_tools() {
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
}

# bench_admin_key BIN DATA_DIR KEY_FILE [STORE ARGS...]: prints an API key of an admin
# (unlimited) bench user of that store, made once and kept in KEY_FILE. Exports and
# predictions need a user since issue 6. An existing bench user is reused.
bench_admin_key() {
  local bin=$1 data=$2 key_file=$3
  shift 3
  if [ ! -s "$key_file" ]; then
    mkdir -p "$(dirname "$key_file")"
    SUITE_PW="Heron-Admin-7-ladder-quiet" "$bin" --data-dir "$data" "$@" user create \
      --email bench@example.org --role admin --password-env SUITE_PW >/dev/null 2>&1 || true
    "$bin" --data-dir "$data" "$@" key create --email bench@example.org --name bench 2>/dev/null >"$key_file"
  fi
  cat "$key_file"
}

# bench_result_lua: prints wrk's `done` function that writes one line, RESULT then
# req/s, p50, p95 and p99 in ms, socket errors, non-2xx answers (append it to a script).
bench_result_lua() {
  cat <<'LUA'
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.0f %.2f %.2f %.2f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
LUA
}

# bench_wrk CONNECTIONS PATHS_FILE BASE_URL [API_KEY]: drives wrk for $DURATION seconds,
# each request a random line of PATHS_FILE (sent with the key when one is given), and
# prints one line: req/s, p50, p95 and p99 in ms, socket errors, non-2xx answers.
bench_wrk() {
  local conns=$1 file=$2 base=$3 key=${4:-} threads=2 lua
  [ "$conns" -lt 2 ] && threads=1
  lua=$(mktemp --suffix=.lua)
  cat >"$lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local key = os.getenv("BENCH_KEY")
local headers = nil
if key and key ~= "" then headers = { ["X-API-Key"] = key } end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init() math.randomseed(os.time() + (seed or 0)) end
function request() return wrk.format("GET", paths[math.random(#paths)], headers) end
LUA
  bench_result_lua >>"$lua"
  BENCH_KEY=$key WRK_PATHS=$file wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s -s "$lua" "$base" \
    | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}'
  rm -f "$lua"
}
