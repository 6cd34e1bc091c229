# Shared by the project's scripts: the project-local Python venv, free ports,
# and a MongoDB-wire server to run against. Source it; it defines functions only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${SHOP_VENV:-$ROOT/.venv}"
SECANTUSDB_VERSION="0.7.0b3"

log() { printf '==> %s\n' "$*" >&2; }

# Creates the project-local venv on first use.
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the project venv in $VENV"
    python3 -m venv "$VENV"
  fi
}

# Installs a PyPI package into the venv unless the command it provides is
# already there.
ensure_venv_tool() {
  local command="$1" requirement="$2"
  ensure_venv
  if [ ! -x "$VENV/bin/$command" ]; then
    log "installing $requirement into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$requirement"
  fi
}

# Installs a PyPI package into the venv unless its module imports already.
ensure_venv_module() {
  local module="$1" requirement="$2"
  ensure_venv
  if ! "$VENV/bin/python" -c "import $module" 2>/dev/null; then
    log "installing $requirement into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$requirement"
  fi
}

# Runs a command as root: directly when we are root, else through sudo.
sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something accepts TCP connections on 127.0.0.1:$1 (or times out).
wait_for_port() {
  local port="$1" seconds="${2:-30}" what="${3:-server}"
  local deadline=$((SECONDS + seconds))
  until python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "the $what did not listen on port $port within ${seconds}s"
      return 1
    fi
    sleep 0.2
  done
}

# Picks the MongoDB-wire server binary: a mongod on PATH, else secantusd-rs,
# else secantusd-py from the project venv (installed on first use). Prints
# "KIND PATH".
pick_mongo_server() {
  if command -v mongod >/dev/null 2>&1; then
    echo "mongod $(command -v mongod)"
  elif command -v secantusd-rs >/dev/null 2>&1; then
    echo "secantusd-rs $(command -v secantusd-rs)"
  else
    ensure_venv_tool secantusd-py "secantusdb==$SECANTUSDB_VERSION"
    echo "secantusd-py $VENV/bin/secantusd-py"
  fi
}

# Starts a server of KIND at PATH on PORT with data in DIR, logging to LOG.
# Sets MONGO_PID.
start_mongo_server() {
  local kind="$1" path="$2" port="$3" dir="$4" log_file="$5"
  mkdir -p "$dir"
  case "$kind" in
    mongod) "$path" --port "$port" --bind_ip 127.0.0.1 --dbpath "$dir" >"$log_file" 2>&1 & ;;
    *) "$path" --port "$port" --storage-path "$dir" >"$log_file" 2>&1 & ;;
  esac
  MONGO_PID=$!
  if ! wait_for_port "$port" 60 "$kind server"; then
    tail -n 20 "$log_file" >&2 || true
    return 1
  fi
}
