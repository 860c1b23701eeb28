// The Kysely view of LabVirt's database. One schema for SQLite and PostgreSQL, so the
// column types are the portable subset: ids are text (UUIDs made by the application),
// timestamps are ISO-8601 text in UTC with milliseconds and 'Z' (new Date().toISOString(),
// which also sorts correctly as text), booleans are integers 0/1, JSON is text.
// Keep this file in step with migrations/.
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** A boolean column: 0 or 1 on both dialects (better-sqlite3 cannot bind JS booleans). */
export type Flag = 0 | 1;
/** An ISO-8601 UTC timestamp, e.g. '2024-05-01T12:00:00.000Z'. */
export type Timestamp = string;

/** pending: made by `host add`, waiting for its agent to join with the token. */
export type HostState = 'pending' | 'online' | 'offline' | 'unavailable';
export type PlacementPolicy = 'spread' | 'pack';
export type DisplayProtocol = 'rdp' | 'vnc' | 'spice';
export type AdminPolicy = 'shared' | 'exclusive';
export type OutsideSlots = 'default' | 'closed';
export type VmKind = 'client' | 'admin' | 'manual';
export type UserRole = 'admin' | 'operator' | 'viewer';

export interface HostTable {
  id: string;
  name: string;
  /** 'local' for the in-process agent. */
  address: string;
  is_local: Flag;
  state: HostState;
  state_reason: string | null;
  cpus: number | null;
  memory_mib: number | null;
  monitoring_url: string | null;
  last_seen_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** The agent's TLS certificate (PEM), pinned by the controllers (migration 0005). */
  agent_certificate: Generated<string | null>;
  /** sha256 (hex) of the secret the agent calls the controller with. */
  agent_secret_hash: Generated<string | null>;
  /** The secret the controllers call the agent with (bearer). */
  controller_secret: Generated<string | null>;
  /** sha256 (hex) of a pending host's one-time join token, and when it expires. */
  join_token_hash: Generated<string | null>;
  join_expires_at: Generated<Timestamp | null>;
  /** Drained: no new VMs are placed here; running ones finish. */
  maintenance: Generated<Flag>;
  /** vCPUs of VMs per CPU of the host that placement allows. */
  cpu_ratio: Generated<number>;
  /** Its image store is the controller's (the local host, or a shared path): nothing is copied. */
  shared_store: Generated<Flag>;
}

/** The image versions a host's store holds (migration 0005). */
export interface HostImageTable {
  host_id: string;
  version_id: string;
  created_at: Timestamp;
}

export interface ProfileTable {
  id: string;
  name: string;
  description: Generated<string>;
  memory_mib: number;
  cpus: number;
  nic_model: string;
  disk_bus: string;
  display: DisplayProtocol;
  guest_port: number | null;
  cdrom: string | null;
  /** JSON text: the extra data disks, [{ "sizeMiB": N }] (migration 0002). */
  data_disks: Generated<string>;
  admin_policy: AdminPolicy;
  published_version_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface VersionTable {
  id: string;
  profile_id: string;
  number: number;
  parent_version_id: string | null;
  file: string;
  format: string;
  /** bigint in the database; always read back as a JS number. */
  size_bytes: number;
  sha256: string;
  note: Generated<string>;
  created_by: string | null;
  created_at: Timestamp;
}

export interface LabTable {
  id: string;
  name: string;
  description: Generated<string>;
  timezone: Generated<string>;
  default_profile_id: string | null;
  idle_minutes: number | null;
  /** What the lab does outside its timetable's slots (migration 0003). */
  outside_slots: Generated<OutsideSlots>;
  /** The IPv4 range its terminals' VMs get addresses from, 'FIRST-LAST'; null: none (0004). */
  address_pool: string | null;
  /** How its VMs are placed on hosts (migration 0005). */
  placement: Generated<PlacementPolicy>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One weekly slot of a lab's timetable: profile P on these days, [start, end) (0003). */
export interface LabSlotTable {
  id: string;
  lab_id: string;
  /** Bit per weekday: Monday 1, Tuesday 2 ... Sunday 64. */
  days: number;
  /** Minutes since midnight, in the lab's time zone. */
  start_minute: number;
  end_minute: number;
  profile_id: string;
}

/** Unknown terminals asking from this subnet are enrolled into the lab at once (0003). */
export interface LabSubnetTable {
  /** Normalised CIDR, e.g. '10.1.2.0/24' or 'fd00::/64'. */
  cidr: string;
  lab_id: string;
  created_at: Timestamp;
}

export interface LabProfileTable {
  lab_id: string;
  profile_id: string;
}

export interface ProfileHostTable {
  profile_id: string;
  host_id: string;
}

export interface TerminalTable {
  id: string;
  /** Lowercase, colon-separated: 'aa:bb:cc:dd:ee:ff'. */
  mac: string;
  name: string;
  /** null: pending enrolment. */
  lab_id: string | null;
  enabled: Generated<Flag>;
  /** The address the terminal is registered by (it may ask without a MAC from there). */
  ip: string | null;
  /** The address it last asked from (migration 0003). */
  last_ip: Generated<string | null>;
  last_seen_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** The address a terminal's VM is given by DHCP, from its lab's pool (migration 0004). */
export interface TerminalAddressTable {
  terminal_id: string;
  /** Unique: one terminal per address. */
  ip: string;
}

export interface VmTable {
  id: string;
  name: string;
  kind: VmKind;
  profile_id: string | null;
  version_id: string | null;
  /** Unique: a terminal is served by at most one VM. */
  terminal_id: string | null;
  host_id: string | null;
  state: string;
  /** Unique among active (not ended) VMs (migration 0004): a terminal's VM keeps its MAC. */
  mac: string;
  /** Since when no terminal is connected; null while one is (migration 0003). */
  idle_since: Generated<Timestamp | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AdminSessionTable {
  id: string;
  /** Unique: at most one admin session per profile. */
  profile_id: string;
  base_version_id: string;
  draft_file: string;
  vm_id: string | null;
  policy: AdminPolicy;
  opened_by: string | null;
  opened_at: Timestamp;
}

export interface UserTable {
  id: string;
  username: string;
  role: UserRole;
  password_hash: string;
  language: string | null;
  disabled: Generated<Flag>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Labs granted to an operator. */
export interface UserLabTable {
  user_id: string;
  lab_id: string;
}

export interface ApiTokenTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  expires_at: Timestamp | null;
}

export interface WebSessionTable {
  id: string;
  user_id: string;
  token_hash: string;
  csrf_token: string;
  ip: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

export interface AuditEventTable {
  /** Auto-increment; a JS number on both dialects. */
  id: Generated<number>;
  at: Timestamp;
  actor_user_id: string | null;
  actor_name: string;
  source_ip: string | null;
  /** e.g. 'lab.create'. */
  action: string;
  target_type: string | null;
  target_id: string | null;
  /** JSON text. */
  details: Generated<string>;
}

export interface Database {
  hosts: HostTable;
  host_images: HostImageTable;
  profiles: ProfileTable;
  versions: VersionTable;
  labs: LabTable;
  lab_profiles: LabProfileTable;
  lab_slots: LabSlotTable;
  lab_subnets: LabSubnetTable;
  profile_hosts: ProfileHostTable;
  terminals: TerminalTable;
  terminal_addresses: TerminalAddressTable;
  vms: VmTable;
  admin_sessions: AdminSessionTable;
  users: UserTable;
  user_labs: UserLabTable;
  api_tokens: ApiTokenTable;
  web_sessions: WebSessionTable;
  audit_events: AuditEventTable;
}

export type Host = Selectable<HostTable>;
export type NewHost = Insertable<HostTable>;
export type HostUpdate = Updateable<HostTable>;
export type HostImage = Selectable<HostImageTable>;
export type Profile = Selectable<ProfileTable>;
export type NewProfile = Insertable<ProfileTable>;
export type ProfileUpdate = Updateable<ProfileTable>;
export type Version = Selectable<VersionTable>;
export type NewVersion = Insertable<VersionTable>;
export type VersionUpdate = Updateable<VersionTable>;
export type Lab = Selectable<LabTable>;
export type NewLab = Insertable<LabTable>;
export type LabUpdate = Updateable<LabTable>;
export type LabSlot = Selectable<LabSlotTable>;
export type NewLabSlot = Insertable<LabSlotTable>;
export type LabSubnet = Selectable<LabSubnetTable>;
export type LabProfile = Selectable<LabProfileTable>;
export type NewLabProfile = Insertable<LabProfileTable>;
export type ProfileHost = Selectable<ProfileHostTable>;
export type NewProfileHost = Insertable<ProfileHostTable>;
export type Terminal = Selectable<TerminalTable>;
export type NewTerminal = Insertable<TerminalTable>;
export type TerminalUpdate = Updateable<TerminalTable>;
export type TerminalAddress = Selectable<TerminalAddressTable>;
export type Vm = Selectable<VmTable>;
export type NewVm = Insertable<VmTable>;
export type VmUpdate = Updateable<VmTable>;
export type AdminSession = Selectable<AdminSessionTable>;
export type NewAdminSession = Insertable<AdminSessionTable>;
export type AdminSessionUpdate = Updateable<AdminSessionTable>;
export type User = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;
export type UserUpdate = Updateable<UserTable>;
export type UserLab = Selectable<UserLabTable>;
export type NewUserLab = Insertable<UserLabTable>;
export type ApiToken = Selectable<ApiTokenTable>;
export type NewApiToken = Insertable<ApiTokenTable>;
export type ApiTokenUpdate = Updateable<ApiTokenTable>;
export type WebSession = Selectable<WebSessionTable>;
export type NewWebSession = Insertable<WebSessionTable>;
export type WebSessionUpdate = Updateable<WebSessionTable>;
export type AuditEvent = Selectable<AuditEventTable>;
export type NewAuditEvent = Insertable<AuditEventTable>;
