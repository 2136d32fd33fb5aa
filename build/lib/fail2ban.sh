# Sourced by build scripts: start a private fail2ban-server (Debian's package unpacked in
# target/fail2ban by build/fetch-fail2ban) on its own socket, with jails that use a no-op
# action, so nothing on the machine is ever blocked.
#
#   f2b_start DIR JAIL...    writes DIR/conf, starts the server, waits for its jails; sets F2B_SOCK, F2B_PID
#   f2b_fail DIR JAIL IP [N] appends N failure lines for IP to the jail's log
#   f2b_stop DIR             SIGTERM by pid file

f2b_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

f2b_start() {
  local dir=$1; shift
  rm -rf "$dir"
  mkdir -p "$dir/conf/filter.d" "$dir/conf/action.d" "$dir/logs" "$dir/run"
  F2B_SOCK=$dir/run/fail2ban.sock
  cat > "$dir/conf/fail2ban.conf" <<CONF
[Definition]
loglevel = INFO
logtarget = $dir/fail2ban.log
socket = $F2B_SOCK
pidfile = $dir/run/fail2ban.pid
dbfile = :memory:
CONF
  printf '[Definition]\nfailregex = ^\\s*auth failure from <HOST>\\s*$\ndatepattern = {NONE}\n' > "$dir/conf/filter.d/demo.conf"
  printf '[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban =\nactionunban =\n' > "$dir/conf/action.d/noop.conf"
  printf '[DEFAULT]\nbackend = polling\nusedns = no\nmaxretry = 3\nfindtime = 600\nbantime = 600\nfilter = demo\naction = noop\n' > "$dir/conf/jail.conf"
  local jail
  for jail in "$@"; do
    touch "$dir/logs/$jail.log"
    printf '\n[%s]\nenabled = true\nlogpath = %s\n' "$jail" "$dir/logs/$jail.log" >> "$dir/conf/jail.conf"
  done
  PYTHONPATH=$f2b_root/target/fail2ban/usr/lib/python3/dist-packages \
    python3 "$f2b_root/target/fail2ban/usr/bin/fail2ban-server" -f -x -c "$dir/conf" -s "$F2B_SOCK" \
    -p "$dir/run/fail2ban.pid" >"$dir/fail2ban.out" 2>&1 &
  F2B_PID=$!
  local i
  for i in $(seq 150); do
    if [ -S "$F2B_SOCK" ] && [ -f "$dir/run/fail2ban.pid" ] && grep -q "Jail '${!#}' started" "$dir/fail2ban.log" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "fail2ban did not start within 15 s; its log ($dir/fail2ban.log):" >&2
  tail -20 "$dir/fail2ban.log" "$dir/fail2ban.out" >&2 2>/dev/null
  return 1
}

f2b_fail() {
  local dir=$1 jail=$2 ip=$3 n=${4:-1} i
  for i in $(seq "$n"); do echo "auth failure from $ip" >> "$dir/logs/$jail.log"; done
}

f2b_stop() {
  local dir=$1
  [ -f "$dir/run/fail2ban.pid" ] && kill "$(cat "$dir/run/fail2ban.pid")" 2>/dev/null
  local i
  for i in $(seq 50); do [ -S "$dir/run/fail2ban.sock" ] || return 0; sleep 0.1; done
}
