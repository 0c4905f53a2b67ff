#!/usr/bin/env bash
# Start a private OpenSSH server on 127.0.0.1 for the DVC SSH-remote tests.
#
#   scripts/ensure_sshd.sh DIR
#
# Installs Debian's openssh-server when sshd is missing, then, inside DIR: a host key, a
# client key (authorized for the current user), an sshd_config and a daemon on a free
# loopback port. Prints KEY=VALUE lines (PORT, USER, KEY, PIDFILE, LOG) on stdout.
# Stop it with `kill "$(cat DIR/sshd.pid)"`. Exits non-zero, saying why, when it cannot start.
set -euo pipefail
DIR=${1:?usage: ensure_sshd.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

SSHD=$(command -v sshd || true)
[ -z "$SSHD" ] && [ -x /usr/sbin/sshd ] && SSHD=/usr/sbin/sshd
if [ -z "$SSHD" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || { echo "sshd missing and no root/sudo to install openssh-server" >&2; exit 2; }
    SUDO="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  command -v apt-get >/dev/null 2>&1 || { echo "sshd missing and no apt-get to install openssh-server" >&2; exit 2; }
  # policy-rc.d 101: install without starting the system-wide service.
  if [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$SUDO" ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends openssh-server openssh-client; } >&2 \
    || { echo "apt-get install openssh-server failed" >&2; exit 2; }
  SSHD=/usr/sbin/sshd
fi

USER_NAME=$(id -un)
[ -f "$DIR/host_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/host_ed25519" >&2
[ -f "$DIR/client_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/client_ed25519" >&2
cp "$DIR/client_ed25519.pub" "$DIR/authorized_keys"
chmod 600 "$DIR/authorized_keys" "$DIR/host_ed25519" "$DIR/client_ed25519"
# Privilege separation directory (normally made by the service unit).
if [ "$(id -u)" = "0" ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$DIR/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $DIR/host_ed25519
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PermitRootLogin yes
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $USER_NAME
Subsystem sftp internal-sftp
EOF

rm -f "$DIR/sshd.pid"
"$SSHD" -f "$DIR/sshd_config" -E "$DIR/sshd.log" || { echo "sshd failed to start: $(tail -n 3 "$DIR/sshd.log" 2>/dev/null)" >&2; exit 3; }
for _ in $(seq 50); do
  if [ -s "$DIR/sshd.pid" ] && python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null; then
    ssh -q -i "$DIR/client_ed25519" -p "$PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null "$USER_NAME@127.0.0.1" true \
      || { echo "sshd on port $PORT refuses the test key: $(tail -n 3 "$DIR/sshd.log")" >&2; exit 4; }
    echo "PORT=$PORT"
    echo "USER=$USER_NAME"
    echo "KEY=$DIR/client_ed25519"
    echo "PIDFILE=$DIR/sshd.pid"
    echo "LOG=$DIR/sshd.log"
    exit 0
  fi
  sleep 0.1
done
echo "sshd did not listen on 127.0.0.1:$PORT: $(tail -n 3 "$DIR/sshd.log" 2>/dev/null)" >&2
exit 3
