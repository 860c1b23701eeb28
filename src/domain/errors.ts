// The catalogue of LabVirt's errors: a stable code, the HTTP status it maps to and an
// English message template (the gettext msgid). Callers throw LabvirtError with a code and
// parameters; the CLI and the API translate the template by code, then fill it in.

const catalogue = {
  // Bad input (the caller can fix it)
  OPTION_INVALID: { status: 400, message: '{option}: {reason}' },
  VM_NAME_INVALID: {
    status: 400,
    message:
      'VM name "{name}" is not valid: use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
  },
  UUID_MALFORMED: { status: 400, message: 'UUID "{uuid}" is malformed' },
  MEMORY_OUT_OF_RANGE: {
    status: 400,
    message: 'memory {value} MiB is out of range ({min}-{max} MiB)',
  },
  CPUS_OUT_OF_RANGE: { status: 400, message: 'vCPU count {value} is out of range ({min}-{max})' },
  MAC_MALFORMED: {
    status: 400,
    message: 'MAC address "{mac}" is malformed: expected six hex pairs like 52:54:00:12:34:56',
  },
  MAC_MULTICAST: { status: 400, message: 'MAC address "{mac}" is a multicast address' },
  NIC_MODEL_UNKNOWN: { status: 400, message: 'unknown NIC model "{model}": use {allowed}' },
  NET_MODE_INVALID: {
    status: 400,
    message: 'network "{value}" is not valid: use user, bridge:BRIDGE, tap:IFNAME or none',
  },
  IFNAME_INVALID: {
    status: 400,
    message: 'interface name "{name}" is not valid: 1-15 letters, digits, ".", "_" or "-"',
  },
  FORWARD_INVALID: {
    status: 400,
    message: 'port forward "{value}" is not valid: use HOSTPORT:GUESTPORT (1-65535)',
  },
  DISK_BUS_UNKNOWN: { status: 400, message: 'unknown disk bus "{bus}": use ide or virtio' },
  IDE_SLOTS_EXHAUSTED: {
    status: 400,
    message: '{count} IDE devices do not fit the 4 IDE slots; use --disk-bus virtio for more disks',
  },
  DISK_REQUIRED: { status: 400, message: 'a VM needs at least one --disk (or a --cdrom to boot)' },
  BOOT_DEVICE_MISSING: { status: 400, message: 'cannot boot from {device}: the VM has none' },
  BOOT_DEVICE_UNKNOWN: {
    status: 400,
    message: 'unknown boot device "{device}": use disk or cdrom',
  },
  ACCEL_UNKNOWN: { status: 400, message: 'unknown accelerator "{accel}": use kvm, tcg or auto' },
  KVM_UNAVAILABLE: {
    status: 400,
    message: 'KVM was asked for but /dev/kvm is not usable ({reason}); use --accel tcg or auto',
  },
  SOCKET_PATH_TOO_LONG: {
    status: 400,
    message: 'socket path "{path}" is longer than the {max} bytes a Unix socket allows',
  },
  PATH_INVALID: { status: 400, message: 'path "{path}" is not valid: {reason}' },
  FILE_NOT_FOUND: { status: 400, message: '{what} "{path}" does not exist' },
  FILE_UNREADABLE: { status: 400, message: '{what} "{path}" cannot be read: {reason}' },
  FILE_NOT_WRITABLE: {
    status: 400,
    message: '{what} "{path}" is not writable (use --snapshot to discard writes)',
  },
  FILE_NOT_REGULAR: { status: 400, message: '{what} "{path}" is not a regular file' },
  IMAGE_NOT_AN_IMAGE: { status: 400, message: '"{path}" is not a disk image: {reason}' },
  IMAGE_FORMAT_UNKNOWN: {
    status: 400,
    message: 'unknown image format "{format}": use {allowed}',
  },
  IMAGE_BACKING_OUTSIDE: {
    status: 400,
    message: 'image "{path}" has backing file "{backing}" outside the allowed directories',
  },
  IMAGE_BACKING_FORMAT_MISSING: {
    status: 400,
    message:
      'image "{path}" does not record the format of its backing file "{backing}" (it would have to be probed)',
  },
  IMAGE_DATA_FILE: {
    status: 400,
    message: 'image "{path}" uses an external data file, which is not allowed',
  },
  IMAGE_TOO_LARGE: {
    status: 400,
    message: 'image "{path}" is a disk of {sizeGiB} GiB, more than the {limitGiB} GiB allowed',
  },
  IMAGE_CHAIN_TOO_DEEP: {
    status: 400,
    message: 'image "{path}" has a backing chain deeper than {max} layers',
  },
  IMAGE_CORRUPT: { status: 400, message: 'image "{path}" failed its check: {detail}' },

  // The image store (golden image versions, drafts, imports)
  IMAGE_OUTSIDE_STORE: { status: 400, message: 'path "{path}" is outside the image store' },
  IMPORT_SOURCE_OUTSIDE: {
    status: 400,
    message: 'import source "{path}" is not inside one of the import directories',
  },
  IMAGE_VERSION_EXISTS: {
    status: 409,
    message: 'the image store already has a file for version {version} of profile {profile}',
  },
  IMAGE_VERSION_MISSING: {
    status: 404,
    message: 'the image store has no file for version {version} of profile {profile}',
  },
  IMAGE_NOT_SEALED: {
    status: 409,
    message: 'image "{path}" is a writable draft, not a sealed (read-only) version',
  },
  IMAGE_IN_USE: {
    status: 409,
    message: 'image "{path}" is in use: another process holds its lock ({detail})',
  },
  IMAGE_HAS_DEPENDENTS: {
    status: 409,
    message: 'image "{path}" cannot be removed: other layers are based on it ({dependents})',
  },
  IMAGE_STORE_FULL: {
    status: 507,
    message: 'the image store "{root}" ran out of space during {operation}: {detail}',
  },

  // Profiles' images, versions, clones and jobs (the controller side of the store)
  IMAGE_STORE_NOT_CONFIGURED: {
    status: 503,
    message: 'this server has no image store configured, so profiles cannot have images',
  },
  PROFILE_NO_IMAGE: { status: 409, message: 'profile "{profile}" has no published version yet' },
  VERSION_NOT_FOUND: { status: 404, message: 'profile "{profile}" has no version {version}' },
  VERSION_PUBLISHED: {
    status: 409,
    message: 'version {version} of profile "{profile}" is the published one and cannot be deleted',
  },
  VERSION_IN_USE: {
    status: 409,
    message:
      'version {version} of profile "{profile}" cannot be deleted: it is still used by {users}',
  },
  PROFILE_IN_USE: {
    status: 409,
    message: 'profile "{profile}" cannot be deleted: its images are still used by {users}',
  },
  JOB_NOT_FOUND: { status: 404, message: 'no job "{job}"' },
  UPLOAD_TOO_LARGE: {
    status: 413,
    message: 'the upload is larger than the {limit} bytes this server accepts',
  },
  UPLOAD_INCOMPLETE: {
    status: 400,
    message: 'the upload ended early: {received} of {expected} bytes arrived',
  },
  ISO_NOT_FOUND: {
    status: 400,
    message: 'there is no ISO image "{name}" in the ISO library',
  },
  ISO_NAME_INVALID: {
    status: 400,
    message:
      'ISO name "{name}" is not valid: give a file name from the ISO library, without a path',
  },

  // VMs of profiles and admin sessions
  VM_UNKNOWN: { status: 404, message: 'no VM "{vm}"' },
  VM_NOT_RUNNING: { status: 409, message: 'VM "{name}" is not running (it is {state})' },
  ADMIN_SESSION_EXISTS: {
    status: 409,
    message: 'profile "{profile}" already has an admin session open',
  },
  ADMIN_SESSION_NOT_FOUND: {
    status: 404,
    message: 'profile "{profile}" has no admin session open',
  },
  ADMIN_SESSION_EXCLUSIVE: {
    status: 409,
    message:
      'profile "{profile}" has an exclusive admin session open: no client VM of it starts until the session is published or discarded',
  },
  ADMIN_SESSION_CLIENTS_RUNNING: {
    status: 409,
    message:
      'profile "{profile}" has client VMs running ({count}): an exclusive admin session cannot open while they run (--force shuts them down first)',
  },
  ADMIN_VM_RUNNING: {
    status: 409,
    message:
      'the administrative VM of profile "{profile}" is still running: power it off first (discard takes --force)',
  },

  // The web console's VM console (routes/console.ts)
  CONSOLE_TICKET_INVALID: {
    status: 401,
    message:
      'the console ticket is missing, expired, already used or not for you and this VM: open the console again',
  },
  CONSOLE_ORIGIN_REFUSED: {
    status: 403,
    message:
      "console connections are accepted from this server's own pages ({expected}) only, not from {origin}",
  },

  // The terminal config's query and formats (src/terminal/query.ts, formats.ts)
  TERMINAL_MACS_TOO_MANY: {
    status: 400,
    message: '{count} MAC addresses were given; a terminal may send at most {max}',
  },
  TERMINAL_FORMAT_UNKNOWN: { status: 400, message: 'unknown format "{format}": use {allowed}' },
  TERMINAL_CLIENT_UNKNOWN: { status: 400, message: 'unknown client "{client}": use {allowed}' },
  TERMINAL_CLIENT_NOT_ARGS: {
    status: 400,
    message:
      'client is only for format=args, not format={format}: drop client or ask for format=args',
  },
  TERMINAL_FORMAT_PROTOCOL: {
    status: 409,
    message:
      "the VM's display is {protocol}; format {format} serves only {allowed}: ask for format=args, json or env",
  },
  TERMINAL_CLIENT_NONE: {
    status: 409,
    message:
      "none of the clients {clients} can open this VM's {protocol} display from its command line: install one of {fitting}",
  },
  TERMINAL_DISPLAY_INVALID: {
    status: 500,
    message:
      'the display of VM "{vm}" has an invalid {field} "{value}": check the gateway address of its host',
  },

  // Request validation (API)
  BODY_MALFORMED: { status: 400, message: 'the request body is not valid JSON' },
  BODY_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  MEDIA_TYPE_UNSUPPORTED: { status: 415, message: 'send the request body as application/json' },
  EVENT_STREAM_NOT_ACCEPTED: {
    status: 406,
    message: 'this is a stream of server-sent events: ask for it with Accept: text/event-stream',
  },
  URL_MALFORMED: { status: 400, message: 'the request URL is not valid (a broken %-escape?)' },
  URL_TOO_LONG: { status: 414, message: 'a part of the request URL is too long' },
  FIELD_REQUIRED: { status: 400, message: '{field} is required' },
  FIELD_UNKNOWN: { status: 400, message: 'unknown field {field}' },
  FIELD_TYPE: { status: 400, message: '{field} must be of type {type}' },
  FIELD_TOO_LONG: { status: 400, message: '{field} must be at most {limit} characters long' },
  FIELD_TOO_SHORT: { status: 400, message: '{field} must be at least {limit} characters long' },
  FIELD_TOO_SMALL: { status: 400, message: '{field} must be at least {limit}' },
  FIELD_TOO_LARGE: { status: 400, message: '{field} must be at most {limit}' },
  FIELD_TOO_MANY: { status: 400, message: '{field} must have at most {limit} items' },
  FIELD_NOT_ALLOWED: { status: 400, message: '{field} must be one of: {allowed}' },
  FIELD_INVALID: { status: 400, message: '{field} is not valid' },
  TIMEZONE_UNKNOWN: { status: 400, message: 'unknown time zone "{timezone}"' },
  SLOT_INVALID: {
    status: 400,
    message:
      'timetable slot "{slot}" is not valid ({reason}): write it like mon-fri 08:00-10:00 PROFILE',
  },
  SLOT_OVERLAP: {
    status: 400,
    message:
      'timetable slots "{first}" and "{second}" overlap: a lab runs one profile at a time, so shorten or move one of them',
  },
  PROFILE_NOT_IN_LAB: {
    status: 400,
    message:
      'profile "{profile}" is not one of the profiles of lab "{lab}": make it available to the lab first (labvirt lab set-profiles)',
  },
  SUBNET_INVALID: {
    status: 400,
    message:
      'subnet "{cidr}" is not valid: write an address and a prefix length, like 10.1.2.0/24 or fd00::/64',
  },
  IP_INVALID: {
    status: 400,
    message: 'address "{ip}" is not an IP address: give one like 10.1.2.3 or fd00::3',
  },
  POOL_INVALID: {
    status: 400,
    message:
      'address pool "{pool}" is not valid ({reason}): give an IPv4 range like 10.0.0.10-10.0.0.99 or a subnet like 10.0.0.0/24, at most {max} addresses',
  },
  PASSWORD_TOO_SHORT: {
    status: 400,
    message: 'the password must be at least {min} characters long',
  },
  QUERY_TOO_LONG: {
    status: 400,
    message: "the request is {length} characters long; a terminal's request is at most {max}",
  },
  TERMINAL_UNIDENTIFIED: {
    status: 400,
    message:
      "no terminal is registered by the address {address}: send the terminal's MAC address, like ?mac=52:54:00:12:34:56",
  },

  // Authentication and authorization
  AUTH_REQUIRED: { status: 401, message: 'authentication required: log in or send an API token' },
  LOGIN_FAILED: { status: 401, message: 'wrong user name or password' },
  SIGN_IN_LINK_INVALID: {
    status: 401,
    message: 'this sign-in link is not valid: it is unknown, already used or expired',
  },
  LOGIN_RATE_LIMITED: {
    status: 429,
    message: 'too many failed logins; try again in {seconds} seconds',
  },
  FORBIDDEN: { status: 403, message: 'your role ({role}) may not do this' },
  LAB_FORBIDDEN: { status: 403, message: 'lab "{lab}" is not one of the labs granted to you' },
  CSRF_FAILED: {
    status: 403,
    message: 'missing or wrong CSRF token (send the X-CSRF-Token header given at login)',
  },
  PASSWORD_WRONG: { status: 403, message: 'the current password is wrong' },

  // The terminal endpoint's refusals: the terminal is told why, and nothing else
  TERMINAL_PENDING: {
    status: 403,
    message:
      'terminal {mac} is not enrolled yet: an administrator can enrol it with labvirt terminal enrol {mac} --lab LAB',
  },
  TERMINAL_DISABLED: {
    status: 403,
    message: 'terminal {mac} is disabled: an administrator can enable it again',
  },
  LAB_CLOSED: { status: 403, message: 'lab "{lab}" is closed now ({reason})' },
  TERMINAL_RATE_LIMITED: {
    status: 429,
    message: 'too many requests from this address; try again in {seconds} seconds',
  },

  // Things that are not there
  ROUTE_NOT_FOUND: { status: 404, message: 'no such API route: {method} {url}' },
  WEB_CONSOLE_NOT_BUILT: {
    status: 503,
    message: 'the web console is not built into this installation (npm run build:web)',
  },
  LAB_NOT_FOUND: { status: 404, message: 'no lab "{lab}"' },
  TERMINAL_NOT_FOUND: { status: 404, message: 'no terminal "{terminal}"' },
  USER_NOT_FOUND: { status: 404, message: 'no user "{user}"' },
  PROFILE_NOT_FOUND: { status: 404, message: 'no profile "{profile}"' },
  HOST_NOT_FOUND: { status: 404, message: 'no host "{host}"' },
  TOKEN_NOT_FOUND: { status: 404, message: 'no API token "{token}"' },

  // State conflicts
  VM_ALREADY_RUNNING: { status: 409, message: 'a VM named "{name}" is already running' },
  VM_NOT_FOUND: { status: 404, message: 'no VM named "{name}" is running' },
  LAB_EXISTS: { status: 409, message: 'a lab named "{name}" already exists' },
  TERMINAL_EXISTS: { status: 409, message: 'terminal {mac} is already known' },
  TERMINAL_IP_TAKEN: {
    status: 409,
    message:
      'address {ip} is already registered to terminal {terminal}: give another address, or remove it from that terminal first',
  },
  TERMINAL_ENROLLED: {
    status: 409,
    message:
      'terminal {terminal} is already enrolled in lab "{lab}": only pending terminals are enrolled (use labvirt terminal move)',
  },
  SUBNET_TAKEN: {
    status: 409,
    message: 'subnet {cidr} already belongs to lab "{lab}": remove it from that lab first',
  },
  POOL_EXHAUSTED: {
    status: 409,
    message:
      'the address pool {pool} of lab "{lab}" has {size} addresses, too few for its {terminals} terminals: give the lab a larger pool',
  },
  POOL_OVERLAP: {
    status: 409,
    message:
      'address pool {pool} overlaps pool {other} of lab "{lab}": no address may be in the pools of two labs',
  },
  MAC_IN_USE: {
    status: 409,
    message:
      'MAC address {mac} is already used by VM {vm}, which is active: two VMs with one MAC would break the network (stop that VM first)',
  },
  PROFILE_IN_TIMETABLE: {
    status: 409,
    message:
      'profile "{profile}" is used by the timetable of lab "{lab}": change the timetable first (labvirt lab timetable)',
  },
  USER_EXISTS: { status: 409, message: 'a user named "{name}" already exists' },
  PROFILE_EXISTS: { status: 409, message: 'a profile named "{name}" already exists' },
  LAST_ADMIN: { status: 409, message: 'this would leave LabVirt without an administrator' },

  // The host or QEMU failed
  QEMU_NOT_INSTALLED: {
    status: 503,
    message: '{binary} was not found: install the Debian package {package}',
  },
  QEMU_START_FAILED: { status: 500, message: 'QEMU could not start VM "{name}": {detail}' },
  OVERLAY_DIR_FULL: {
    status: 507,
    message: 'the overlay directory "{dir}" ran out of space while starting VM "{name}": {detail}',
  },
  QEMU_IMG_FAILED: { status: 500, message: 'qemu-img {operation} failed: {detail}' },
  QMP_COMMAND_FAILED: { status: 500, message: 'QMP command {command} failed ({class}): {desc}' },
  QMP_TIMEOUT: { status: 504, message: 'QMP command {command} got no answer within {ms} ms' },
  TERMINAL_VM_FAILED: {
    status: 503,
    message:
      "the VM for this terminal failed to start; it is tried again in {seconds} seconds (the server's log says why)",
  },
  GATEWAY_NO_PORT: {
    status: 503,
    message:
      "no free port for a VM's display on {bind} ({ports}): widen the server's --gateway-ports",
  },
  GATEWAY_UNAVAILABLE: {
    status: 503,
    message: "this host's display gateway is not available: {detail}",
  },
  DISPLAY_NEEDS_NETWORK: {
    status: 400,
    message: 'VM {name} shows its display over RDP, which needs a network: give it one',
  },
  DISPLAY_NEEDS_ADDRESS: {
    status: 409,
    message:
      'VM {name} shows its display over RDP on bridge {bridge}, where the gateway reaches it at its own address: give its lab an address pool',
  },
  BRIDGE_NOT_FOUND: {
    status: 409,
    message:
      'bridge "{bridge}" does not exist on this host: `labvirt host network-setup` makes one',
  },
  BRIDGE_NO_ADDRESS: {
    status: 400,
    message:
      'bridge "{bridge}" has no IPv4 address, which the DHCP server on it needs: give it one (see `labvirt host network-setup`)',
  },
  TAP_SETUP_FAILED: {
    status: 500,
    message: "could not set up a VM's network device (ip {command}): {detail}",
  },
  DHCP_SERVER_FAILED: {
    status: 500,
    message: 'the DHCP server on bridge {bridge} did not start: {detail}',
  },
  VM_NO_DISPLAY: {
    status: 503,
    message: 'VM {name} has no display for terminals on its host (its gateway is not open)',
  },
  QMP_CLOSED: { status: 503, message: 'the QMP connection closed before {command} was answered' },
  QMP_PROTOCOL: { status: 502, message: 'QMP protocol error: {detail}' },
  INTERNAL: { status: 500, message: 'internal error (see the server log, request {requestId})' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'the database cannot be reached: {detail}' },
  VM_STOP_FAILED: { status: 500, message: 'VM "{name}" did not stop: {detail}' },

  // The cluster: enrolment of hosts, the agents' API, placement, image distribution
  JOIN_TOKEN_INVALID: {
    status: 401,
    message:
      'the join token is not valid (wrong, already used or expired): make a new one with labvirt host add',
  },
  HOST_IDENTITY_MISMATCH: {
    status: 403,
    message: 'this agent is enrolled as host "{enrolled}", not "{claimed}"',
  },
  AGENT_CREDENTIAL_INVALID: {
    status: 401,
    message: 'the agent credential is not valid (the host was removed, or never enrolled)',
  },
  AGENT_CERTIFICATE_MISMATCH: {
    status: 502,
    message: 'host "{host}" answered with a TLS certificate other than the one it enrolled with',
  },
  AGENT_UNREACHABLE: { status: 503, message: 'host "{host}" does not answer: {reason}' },
  AGENT_REQUEST_FAILED: { status: 502, message: 'host "{host}" failed: {reason}' },
  HOST_OFFLINE: { status: 503, message: 'host "{host}" is {state}: {reason}' },
  HOST_EXISTS: { status: 409, message: 'a host named "{name}" already exists' },
  HOST_NAME_INVALID: {
    status: 400,
    message: 'host name "{name}" is not valid: use 1-63 letters, digits, "." or "-"',
  },
  HOST_HAS_VMS: {
    status: 409,
    message: 'host "{host}" still runs {count} VMs: drain it and let them end first',
  },
  HOST_IS_LOCAL: {
    status: 409,
    message: 'host "{host}" is this controller’s own machine: it cannot be removed',
  },
  NO_HOST_AVAILABLE: {
    status: 503,
    message: 'no host can take this VM now: {reasons}',
  },
  NO_SHARED_STORE_HOST: {
    status: 503,
    message:
      'admin sessions run on a host that shares the controller’s image store, and none is online',
  },
  IMAGE_MISSING_ON_HOST: {
    status: 409,
    message: 'host "{host}" does not have version {version} and cannot fetch it',
  },
  IMAGE_TRANSFER_CORRUPT: {
    status: 502,
    message:
      'version {version} arrived with sha256 {actual}, not {expected}: the copy was discarded',
  },
  CONTROLLER_CERTIFICATE_MISMATCH: {
    status: 502,
    message:
      'the controller at {url} presented a TLS certificate other than the pinned one (sha256 {actual}): join again with a fresh token if its certificate changed',
  },
  IMAGE_RANGE_INVALID: {
    status: 416,
    message: 'the range starts at byte {offset}, past the end of the {size}-byte file',
  },
  JOIN_INSECURE: {
    status: 400,
    message:
      'joining over plain HTTP is only allowed to a controller on this machine (loopback): use an https:// URL',
  },

  // Host network set-up (labvirt host network-setup)
  BRIDGE_ADDRESS_INVALID: {
    status: 400,
    message:
      'bridge address "{value}" is not valid: give the host\'s address on the bridge with a prefix length, like 10.77.0.1/24',
  },
  NETWORK_UPLINK_NOT_FOUND: {
    status: 400,
    message: 'uplink "{name}" is not a network interface of this host (see ip link)',
  },
  NETWORK_NOT_A_BRIDGE: {
    status: 400,
    message: 'interface "{name}" exists and is not a bridge: choose another --bridge name',
  },
  UNIX_USER_INVALID: {
    status: 400,
    message:
      'user name "{name}" is not valid for a system account: use lowercase letters, digits, "_" or "-"',
  },
  NETWORK_SETUP_NEEDS_ROOT: {
    status: 403,
    message:
      "network-setup --apply changes the host's network and needs root: run it as root, or run it without --apply to see the steps",
  },
  NETWORK_SETUP_STEP_FAILED: {
    status: 500,
    message: 'network-setup stopped at step {step} ({why}): {detail}',
  },

  // The command line: usage, the server command, login and the commands over the API
  USAGE_UNKNOWN_OPTION: { status: 400, message: 'unknown option "{option}"' },
  USAGE_UNKNOWN_COMMAND: { status: 400, message: 'unknown command "{command}"' },
  USAGE_MISSING_ARGUMENT: { status: 400, message: 'missing argument {argument}' },
  USAGE_OPTION_VALUE_MISSING: { status: 400, message: 'option {option} needs a value' },
  USAGE_OPTION_REQUIRED: { status: 400, message: 'option {option} is required' },
  USAGE_TOO_MANY_ARGUMENTS: {
    status: 400,
    message: 'too many arguments: {command} takes {expected}, got {received}',
  },
  USAGE_INVALID: { status: 400, message: 'the command line is not valid (see --help): {detail}' },
  LISTEN_INVALID: {
    status: 400,
    message: '--listen "{value}" is not valid: use HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080',
  },
  LISTEN_FAILED: { status: 500, message: 'cannot listen on {address}: {reason}' },
  TLS_INCOMPLETE: { status: 400, message: '--tls-cert and --tls-key must be given together' },
  DEMO_FAILED: { status: 409, message: 'the demo cannot be set up: {reason}' },
  TRUST_PROXY_INVALID: {
    status: 400,
    message:
      '--trust-proxy "{value}" is not valid: give a number of proxy hops or a comma-separated list of addresses or CIDR ranges',
  },
  PASSWORD_STDIN_REQUIRED: {
    status: 400,
    message: 'give the password on standard input with --password-stdin',
  },
  PASSWORD_STDIN_EMPTY: { status: 400, message: 'no password was given on standard input' },
  PASSWORD_STDIN_CURRENT: {
    status: 400,
    message:
      'to change your own password, give two lines on standard input: the current password, then the new one',
  },
  USERNAME_INVALID: {
    status: 400,
    message:
      'user name "{name}" is not valid: use 1-64 letters, digits, "_", ".", "@" or "-", starting with a letter or digit',
  },
  ROLE_UNKNOWN: { status: 400, message: 'unknown role "{role}": use admin, operator or viewer' },
  URL_INVALID: {
    status: 400,
    message: 'URL "{url}" is not valid: use http://HOST:PORT or https://HOST:PORT',
  },
  NOT_LOGGED_IN: {
    status: 400,
    message:
      'no server to talk to: run labvirt login URL --user NAME --password-stdin, or set LABVIRT_URL and LABVIRT_TOKEN',
  },
  CONFIG_INVALID: { status: 400, message: 'the configuration file {path} is not valid: {reason}' },
  SERVER_UNREACHABLE: { status: 503, message: 'cannot reach {url}: {reason}' },
  SERVER_ANSWER_INVALID: {
    status: 502,
    message: '{url} answered HTTP {status}, which is not a LabVirt API answer',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof catalogue;
/**
 * A word or sentence given as a parameter that is itself user-facing ("disk image", "it is
 * empty"): translated when the message is, unlike names and paths, which never are.
 * Created with phrase(), which the catalogue extractor knows.
 */
export interface Phrase {
  readonly msgid: string;
  readonly params?: ErrorParams;
}

export function phrase(msgid: string, params?: Phrase['params']): Phrase {
  return params === undefined ? { msgid } : { msgid, params };
}

export type ErrorParam = string | number | Phrase;
export type ErrorParams = Readonly<Record<string, ErrorParam>>;

function fill(template: string, params: ErrorParams, translate: (msgid: string) => string): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    if (!Object.hasOwn(params, key)) return whole;
    const value = params[key];
    if (typeof value !== 'object' || value === undefined) return String(value);
    return fill(translate(value.msgid), value.params ?? {}, translate);
  });
}

/** A parameter as text, English (for logs and comparisons). */
export function paramText(value: ErrorParam | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'object'
    ? fill(value.msgid, value.params ?? {}, (msgid) => msgid)
    : String(value);
}

export class LabvirtError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly params: ErrorParams;
  /** The input field at fault, for problem+json and form errors. */
  readonly field: string | undefined;

  constructor(
    code: ErrorCode,
    params: ErrorParams = {},
    options: { field?: string; cause?: unknown } = {},
  ) {
    super(formatMessage(code, params), { cause: options.cause });
    this.name = 'LabvirtError';
    this.code = code;
    this.status = catalogue[code].status;
    this.params = params;
    this.field = options.field;
  }

  /** True when the caller's input is at fault (CLI exit code 2, HTTP 4xx). */
  get isUserError(): boolean {
    return this.status >= 400 && this.status < 500;
  }
}

/** The message template (gettext msgid) of a code. */
export function messageTemplate(code: ErrorCode): string {
  return catalogue[code].message;
}

export function errorStatus(code: ErrorCode): number {
  return catalogue[code].status;
}

export const errorCodes = Object.keys(catalogue) as ErrorCode[];

/** Fill a code's (translated) template with its parameters. */
export function formatMessage(
  code: ErrorCode,
  params: ErrorParams,
  translate: (msgid: string) => string = (msgid) => msgid,
): string {
  return fill(translate(catalogue[code].message), params, translate);
}

export function isLabvirtError(error: unknown): error is LabvirtError {
  return error instanceof LabvirtError;
}
