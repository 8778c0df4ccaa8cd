#!/usr/bin/env bash
# Build and install the pgvector extension (vendored source, ../shared/vendor/pgvector-0.8.6.tar.gz) into the
# Debian PostgreSQL 15 server when `vector` is not available yet. Idempotent: returns at once when the extension
# control file is installed. Builds in a cache directory outside the repository; never copies the source into it.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_VERSION="${PG_VERSION:-15}"
TARBALL="${PGVECTOR_TARBALL:-$(cd .. && pwd)/shared/vendor/pgvector-0.8.6.tar.gz}"
BUILD_DIR="${PGVECTOR_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dalm/pgvector-build}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
sharedir() { command -v pg_config >/dev/null 2>&1 && pg_config --sharedir 2>/dev/null || echo "/usr/share/postgresql/$PG_VERSION"; }
if [ -f "$(sharedir)/extension/vector.control" ]; then echo "pgvector: already installed in $(sharedir)"; exit 0; fi
if [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ]; then echo "pgvector: PostgreSQL $PG_VERSION not installed; skipping (the Postgres tests will skip)"; exit 0; fi
if [ ! -f "$TARBALL" ]; then echo "pgvector: source $TARBALL missing; skipping (the Postgres tests will skip)"; exit 0; fi
if [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/pg_config" ] || [ ! -d "/usr/include/postgresql/$PG_VERSION/server" ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-server-dev-$PG_VERSION"
fi
rm -rf "$BUILD_DIR" && mkdir -p "$BUILD_DIR"
tar xzf "$TARBALL" -C "$BUILD_DIR" --strip-components=1
make -s -C "$BUILD_DIR" PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" >/dev/null
$SUDO make -s -C "$BUILD_DIR" PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" install >/dev/null
echo "pgvector: installed into $(sharedir)/extension"
