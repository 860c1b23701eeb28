// The API's views as the web sees them (the TypeBox schemas in src/controller/routes/*.ts).

export type Role = 'admin' | 'operator' | 'viewer';
export type VmState = 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'failed';

export interface User {
  id: string;
  username: string;
  role: Role;
  labs: string[];
  language: string | null;
  disabled: boolean;
  createdAt: string;
}

export interface SessionInfo {
  user: User;
  csrfToken: string | null;
}

export interface LoginAnswer {
  user: User;
  csrfToken: string;
  expiresAt: string;
}

export interface VmConnection {
  peer: string;
  since: string;
  via: 'gateway' | 'display' | 'conntrack';
  bytesIn?: number;
  bytesOut?: number;
}

export interface Vm {
  id: string;
  name: string;
  kind: string;
  profileId: string | null;
  profile: string | null;
  versionId: string | null;
  host: string | null;
  state: VmState | string;
  mac: string;
  /** The MAC of the terminal it serves. */
  terminal: string | null;
  pid: number | null;
  runStatus: string | null;
  connections: VmConnection[];
  createdAt: string;
  updatedAt: string;
}

export interface Lab {
  id: string;
  name: string;
  description: string;
  timezone: string;
  defaultProfile: string | null;
  idleMinutes: number | null;
  profiles: string[];
  outsideSlots: 'default' | 'closed';
  subnets: string[];
  addressPool: string | null;
  terminals: number;
  createdAt: string;
  updatedAt: string;
}

export interface TimetableSlot {
  text: string;
  days: string[];
  start: string;
  end: string;
  profile: string;
}

export interface LabTimetable {
  lab: string;
  timezone: string;
  defaultProfile: string | null;
  outside: 'default' | 'closed';
  slots: TimetableSlot[];
  now:
    | { state: 'open'; profile: string; slot: string | null; until: string | null }
    | { state: 'closed'; reason: string; opensAt: string | null };
}

export interface LabStart {
  started: number;
  running: number;
  failed: { terminal: string; reason: string }[];
}

export type TerminalState = 'pending' | 'enrolled' | 'disabled';

export interface Terminal {
  id: string;
  mac: string;
  name: string;
  lab: string | null;
  state: TerminalState;
  ip: string | null;
  lastIp: string | null;
  address: string | null;
  vmMac: string;
  lastSeenAt: string | null;
  createdAt: string;
}

export interface Profile {
  id: string;
  name: string;
  description: string;
  memoryMiB: number;
  cpus: number;
  nicModel: 'virtio' | 'rtl8139' | 'e1000';
  diskBus: 'ide' | 'virtio';
  display: 'rdp' | 'vnc' | 'spice';
  guestPort: number | null;
  adminPolicy: 'shared' | 'exclusive';
  cdrom: string | null;
  dataDisks: { sizeMiB: number }[];
  publishedVersion: string | null;
  createdAt: string;
}

export interface Version {
  id: string;
  profile: string;
  number: number;
  parentVersion: string | null;
  format: string;
  sizeBytes: number;
  sha256: string;
  note: string;
  createdBy: string | null;
  createdAt: string;
  chainDepth: number;
  published: boolean;
}

export interface AdminSession {
  id: string;
  profile: string;
  profileId: string;
  policy: 'shared' | 'exclusive';
  baseVersionId: string;
  draftId: string;
  vm: Vm | null;
  openedBy: string | null;
  openedAt: string;
}

export interface HostUsage {
  at: string;
  cpuPercent: number;
  memoryUsedMiB: number;
  memoryTotalMiB: number;
  diskUsedMiB: number;
  diskTotalMiB: number;
  vms: number;
  /** Bytes received and sent by the host's interfaces (not loopback) since boot. */
  netRxBytes?: number;
  netTxBytes?: number;
  /** Each VM's QEMU: CPU as a share of one CPU (0-100 per vCPU), resident memory. */
  vmUsage?: VmUsage[];
}

export interface VmUsage {
  name: string;
  cpuPercent: number;
  memoryMiB: number;
}

export interface Host {
  id: string;
  name: string;
  address: string;
  local: boolean;
  state: string;
  stateReason: string | null;
  cpus: number | null;
  memoryMiB: number | null;
  monitoringUrl: string | null;
  lastSeenAt: string | null;
  usage: HostUsage | null;
}

export interface HostMetrics {
  host: string;
  intervalSeconds: number;
  samples: HostUsage[];
}

export interface Job {
  id: string;
  kind: string;
  state: 'running' | 'succeeded' | 'failed';
  progress: number;
  targetType: string;
  targetId: string;
  target: string;
  startedBy: string | null;
  startedAt: string;
  finishedAt: string | null;
  error: { code: string; status: number; detail: string } | null;
  result: unknown;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  source: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: unknown;
}

export interface ConsoleTicket {
  ticket: string;
  path: string;
  expiresAt: string;
  viewOnly: boolean;
}

export interface Problem {
  type?: string;
  title: string;
  status?: number;
  detail: string;
  code: string;
  field?: string;
}

export interface I18nCatalogue {
  locale: string;
  pluralForms: string;
  messages: Record<string, string[]>;
}

export type LiveTopic =
  'labs' | 'terminals' | 'profiles' | 'hosts' | 'users' | 'vms' | 'dhcp' | 'audit' | 'jobs';

export interface MetricsEvent {
  host: string;
  sample: HostUsage;
}

export interface ChangedEvent {
  topic: LiveTopic | string;
}
