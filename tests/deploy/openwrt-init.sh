#!/bin/sh
# Sources contrib/openwrt/banwatch/files/banwatch.init with stub procd and UCI functions and
# checks the exact command line procd would run for sample UCI configs. The OpenWrt SDK cannot
# run here; this checks the script's logic, `sh -n` its syntax.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
init=$here/../../contrib/openwrt/banwatch/files/banwatch.init
sh -n "$init"

fail=0
run_case() { # NAME UCI_FILE EXPECTED_COMMAND
  name=$1 uci=$2 want=$3
  got=$(
    # Stubs: a tiny UCI reader for `option key 'value'` lines of section `main`, and procd
    # functions that record the command.
    config_load() { :; }
    config_get() { # VAR SECTION OPTION DEFAULT
      v=$(sed -n "s/^[[:space:]]*option[[:space:]]\{1,\}$3[[:space:]]\{1,\}'\(.*\)'[[:space:]]*$/\1/p" "$uci" | tail -n 1)
      [ -n "$v" ] || v=${4-}
      eval "$1=\$v"
    }
    config_get_bool() { config_get "$@"; eval "case \$$1 in 1|on|true|yes|enabled) $1=1;; *) $1=0;; esac"; }
    CMD=""
    procd_open_instance() { :; }
    procd_close_instance() { :; }
    procd_set_param() { k=$1; shift; [ "$k" = command ] && CMD="$*"; :; }
    procd_append_param() { k=$1; shift; [ "$k" = command ] && CMD="$CMD $*"; :; }
    # shellcheck disable=SC1090
    . "$init"
    start_service
    printf '%s' "$CMD"
  )
  if [ "$got" = "$want" ]; then
    echo "ok - openwrt init: $name"
  else
    echo "not ok - openwrt init: $name"
    echo "  want: $want"
    echo "  got:  $got"
    fail=1
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/../../contrib/openwrt/banwatch/files/banwatch.config" "$tmp/default"
run_case "shipped config" "$tmp/default" \
  "/usr/bin/banwatch serve --listen 127.0.0.1:9191 --socket /var/run/fail2ban/fail2ban.sock --interval 5"

cat > "$tmp/custom" <<'UCI'
config banwatch 'main'
	option enabled '1'
	option listen '192.168.1.1:9191'
	option socket '/tmp/run/fail2ban/fail2ban.sock'
	option interval '30'
	option token_file '/etc/banwatch.token'
UCI
run_case "custom config with a token file" "$tmp/custom" \
  "/usr/bin/banwatch serve --listen 192.168.1.1:9191 --socket /tmp/run/fail2ban/fail2ban.sock --interval 30 --token-file /etc/banwatch.token"

sed 's/enabled .1./enabled '"'0'"'/' "$tmp/custom" > "$tmp/disabled"
run_case "disabled" "$tmp/disabled" ""
exit $fail
