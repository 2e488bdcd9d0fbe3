# Shared by the bench scripts (source it): tool installs and the bench API key.

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
