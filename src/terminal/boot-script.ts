// The POSIX sh script a terminal runs at boot (GET /terminal/v1/boot.sh): find its MACs,
// ask for its config as a client's arguments (or a .vv file for remote-viewer), run the
// client, ask again when it exits. Runs under dash and busybox sh, with curl or wget.
// The server's answer is only ever data: read line by line into "$@", never eval'd or
// sourced, and run only when it names a client installed on the terminal.
import { LabvirtError } from '../domain/errors.js';
import { shQuote } from './formats.js';

/**
 * The script, with baseUrl (the server as the terminal reaches it) as the default of
 * LABVIRT_URL; without one, the terminal must set LABVIRT_URL.
 */
export function bootScript(baseUrl?: string): string {
  const base = baseUrl === undefined ? '' : serverUrl(baseUrl);
  // A function, so that "$&" and the like in the URL are not replacement patterns.
  return script.replace('@BASE_URL@', () => shQuote(base));
}

/** http(s)://host[:port][/path], normalised by URL and then quoted for sh. */
function serverUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (error) {
    throw new LabvirtError('URL_INVALID', { url: baseUrl }, { cause: error });
  }
  const plain = url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !plain)
    throw new LabvirtError('URL_INVALID', { url: baseUrl });
  return url.origin + url.pathname.replace(/\/+$/, '');
}

const script = `#!/bin/sh
# LabVirt terminal boot script (served by LabVirt at /terminal/v1/boot.sh).
# Asks LabVirt what this terminal shows, runs the display client, and asks again when the
# client exits (a ticket is good for one connection). POSIX sh: runs under dash and busybox.
# Nothing the server sends is evaluated or sourced: its answer is a list of arguments, one
# per line, for a client this script checked is installed, or a .vv file for remote-viewer.
#
# Environment:
#   LABVIRT_URL        the server, e.g. http://labvirt.example:8080 (default: where this
#                      script was downloaded from)
#   LABVIRT_MAC        this terminal's MAC address(es), comma-separated (default: those of
#                      its network interfaces, except lo)
#   LABVIRT_CLIENTS    the clients to use, in order of preference (default:
#                      xfreerdp rdesktop remote-viewer vncviewer; only installed ones count)
#   LABVIRT_ONCE=1     stop after the client has run once (LABVIRT_MAX_RUNS=N: after N runs)
#   LABVIRT_RETRY_WAIT, LABVIRT_ERROR_WAIT, LABVIRT_RECONNECT_WAIT
#                      seconds to wait while the VM starts (5), after an error (30), and
#                      between a client's exit and the next request (1)
#   LABVIRT_FETCHER    curl or wget (default: curl when installed)
#   LABVIRT_NET_DIR    where the interfaces are listed (default /sys/class/net)
set -u

LABVIRT_URL=\${LABVIRT_URL:-@BASE_URL@}
clients_wanted=\${LABVIRT_CLIENTS:-xfreerdp rdesktop remote-viewer vncviewer}
net_dir=\${LABVIRT_NET_DIR:-/sys/class/net}
retry_wait=\${LABVIRT_RETRY_WAIT:-5}
error_wait=\${LABVIRT_ERROR_WAIT:-30}
reconnect_wait=\${LABVIRT_RECONNECT_WAIT:-1}
max_runs=\${LABVIRT_MAX_RUNS:-0}
[ "\${LABVIRT_ONCE:-0}" = 1 ] && max_runs=1
max_macs=16

say() {
  printf 'labvirt: %s\\n' "$*" >&2
}

is_number() {
  case $1 in
    '' | *[!0-9]*) return 1 ;;
  esac
  return 0
}

for setting in "$retry_wait" "$error_wait" "$reconnect_wait" "$max_runs"; do
  is_number "$setting" || { say "not a number of seconds or runs: $setting"; exit 2; }
done

base=\${LABVIRT_URL%/}
case $base in
  http://?* | https://?*) ;;
  *) say "set LABVIRT_URL to the LabVirt server, e.g. http://labvirt.example:8080"; exit 2 ;;
esac

if [ "\${LABVIRT_FETCHER:-}" = curl ] || { [ -z "\${LABVIRT_FETCHER:-}" ] && command -v curl >/dev/null 2>&1; }; then
  fetcher=curl
elif command -v wget >/dev/null 2>&1; then
  fetcher=wget
else
  say "neither curl nor wget is installed: install one of them"
  exit 2
fi
gnu_wget=0
[ "$fetcher" = wget ] && wget --version 2>/dev/null | grep -q 'GNU Wget' && gnu_wget=1

# The clients of LABVIRT_CLIENTS that are installed, in its order.
installed=
for client in $clients_wanted; do
  case $client in
    xfreerdp | rdesktop | remote-viewer | vncviewer) ;;
    *) say "ignoring unknown client $client"; continue ;;
  esac
  case " $installed " in *" $client "*) continue ;; esac
  command -v "$client" >/dev/null 2>&1 && installed=$installed\${installed:+ }$client
done
if [ -z "$installed" ]; then
  say "no display client is installed: install xfreerdp, rdesktop, remote-viewer or vncviewer"
  exit 2
fi
client_list=$(printf '%s' "$installed" | tr ' ' ',')

# remote-viewer takes a VNC password only from a .vv file, so when it is preferred to
# vncviewer it gets one (format=vv); a 409 there means an rdp display: ask for arguments.
use_vv=0
for client in $installed; do
  case $client in
    remote-viewer) use_vv=1; break ;;
    vncviewer) break ;;
  esac
done

work=$(mktemp -d "\${TMPDIR:-/tmp}/labvirt.XXXXXX") || { say "cannot make a temporary directory"; exit 2; }
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
body=$work/body
headers=$work/headers
vv=$work/display.vv

# The MACs to send: LABVIRT_MAC, else every interface's but lo's and all-zero ones.
find_macs() {
  if [ -n "\${LABVIRT_MAC:-}" ]; then
    case $LABVIRT_MAC in
      *[!0-9a-fA-F:,-]*) say "LABVIRT_MAC is not a list of MAC addresses: $LABVIRT_MAC"; return 1 ;;
    esac
    printf '%s' "$LABVIRT_MAC"
    return 0
  fi
  list=
  count=0
  for file in "$net_dir"/*/address; do
    [ -r "$file" ] || continue
    iface=\${file%/address}
    iface=\${iface##*/}
    [ "$iface" = lo ] && continue
    mac=$(cat "$file" 2>/dev/null) || continue
    case $mac in
      '' | 00:00:00:00:00:00 | *[!0-9a-fA-F:]*) continue ;;
    esac
    count=$((count + 1))
    [ "$count" -gt "$max_macs" ] && break
    list=$list\${list:+,}$mac
  done
  printf '%s' "$list"
}

# GET $1 into $body and $headers; sets $status (000: no answer).
fetch() {
  : >"$body"
  : >"$headers"
  if [ "$fetcher" = curl ]; then
    status=$(curl -sS -L --proto =http,https --proto-redir =http,https --max-time 30 -o "$body" -D "$headers" -w '%{http_code}' "$1" 2>"$work/errors") || status=000
  elif [ "$gnu_wget" = 1 ]; then
    # wget -S writes the answer's headers to stderr.
    wget -q -S -T 30 --content-on-error -O "$body" "$1" 2>"$headers"
    status=$(sed -n 's/^ *HTTP\\/[0-9.]* \\([0-9][0-9][0-9]\\).*/\\1/p' "$headers" | tail -n 1)
    cp "$headers" "$work/errors"
  else
    # busybox wget keeps no error body, and Debian's has no -T (it crashes on it).
    wget -q -S -O "$body" "$1" 2>"$headers"
    status=$(sed -n 's/^ *HTTP\\/[0-9.]* \\([0-9][0-9][0-9]\\).*/\\1/p' "$headers" | tail -n 1)
    cp "$headers" "$work/errors"
  fi
  is_number "$status" || status=000
}

# The seconds the server asked to wait (Retry-After), else $1.
wait_time() {
  seconds=$(sed -n 's/^ *[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]: *\\([0-9][0-9]*\\).*/\\1/p' "$headers" | tail -n 1)
  is_number "$seconds" || seconds=$1
  [ "$seconds" -gt 300 ] && seconds=300
  printf '%s' "$seconds"
}

# Says why there is no config: no answer, or the server's problem detail (else the start
# of its answer), without control characters.
printable() {
  tr -d '\\000-\\010\\013-\\037\\177'
}

explain() {
  if [ "$status" = 000 ]; then
    say "no answer from $base: $(printable <"$work/errors" | head -n 1 | cut -c 1-200)"
    return 0
  fi
  detail=
  if [ -s "$body" ]; then
    detail=$(printable <"$body" |
      sed -n -E 's/.*"detail" *: *"(([^"\\\\]|\\\\.)*)".*/\\1/p' | sed 's/\\\\\\(["\\\\/]\\)/\\1/g' | head -n 1)
    [ -n "$detail" ] || detail=$(printable <"$body" | head -n 3 | cut -c 1-300)
  fi
  if [ -n "$detail" ]; then
    say "$detail (HTTP $status)"
  else
    say "the server answered HTTP $status"
  fi
}

# Runs the argv in $body (one argument per line) if it names an installed client.
run_args() {
  set --
  line=
  while IFS= read -r line || [ -n "$line" ]; do
    set -- "$@" "$line"
    line=
  done <"$body"
  program=\${1:-}
  # vncviewer takes its ticket from the environment: env VNC_PASSWORD=... vncviewer ...
  if [ "$program" = env ]; then
    case \${2:-} in
      VNC_PASSWORD=*) program=\${3:-} ;;
      *) program= ;;
    esac
  fi
  case " $installed " in
    *" $program "*) ;;
    *)
      say "the server asked for a client that is not installed here: \${program:-none}"
      sleep "$error_wait"
      return 1
      ;;
  esac
  "$@"
}

run_vv() {
  if [ "$(head -n 1 "$body")" != '[virt-viewer]' ]; then
    say "the server's answer is not a virt-viewer file"
    return 1
  fi
  cp "$body" "$vv"
  remote-viewer "$vv"
  client_status=$?
  rm -f "$vv"
  return "$client_status"
}

runs=0
# Counts a client's run; stops after LABVIRT_MAX_RUNS of them.
ran() {
  runs=$((runs + 1))
  if [ "$max_runs" -gt 0 ] && [ "$runs" -ge "$max_runs" ]; then
    exit "$1"
  fi
  sleep "$reconnect_wait"
}

while :; do
  macs=$(find_macs) || exit 2
  query=\${macs:+mac=$macs&}
  if [ "$use_vv" = 1 ]; then
    fetch "$base/terminal/v1/config?\${query}format=vv"
    case $status in
      200)
        run_vv
        ran $?
        continue
        ;;
      202)
        sleep "$(wait_time "$retry_wait")"
        continue
        ;;
      409) ;;
      *)
        explain
        sleep "$(wait_time "$error_wait")"
        continue
        ;;
    esac
  fi
  fetch "$base/terminal/v1/config?\${query}format=args&client=$client_list"
  case $status in
    200)
      run_args
      ran $?
      ;;
    202)
      sleep "$(wait_time "$retry_wait")"
      ;;
    *)
      explain
      sleep "$(wait_time "$error_wait")"
      ;;
  esac
done
`;
