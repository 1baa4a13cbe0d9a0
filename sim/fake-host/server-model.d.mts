/** Types of the servers' side of a simulated host (server-model.mjs, fake-ldm.mjs, fake-vios.mjs). */

export type FakeLdomsDomain = {
  name: string;
  state: 'active' | 'bound' | 'inactive';
  control?: boolean;
  service?: boolean;
  /** When it was last started or reset (ms); null when not active. */
  startedAt: number | null;
  /** Seconds in transition (OpenBoot, boot) after a start or reset before it runs normally. */
  bootSeconds?: number;
  cons?: string;
  ncpu?: number;
  mem?: number;
};

export type FakeVirtualDiskService = {
  name: string;
  domain: string;
  volumes: { vol: string; dev: string; opts?: string; mpgroup?: string }[];
};

export type FakeVirtualDisk = {
  guest: string;
  name: string;
  volume: string;
  service: string;
  id: number;
  mpgroup?: string;
};

export type FakeLdoms = {
  /** The Logical Domains Manager daemon runs. */
  ldmd: boolean;
  domains: FakeLdomsDomain[];
  services: FakeVirtualDiskService[];
  vdisks: FakeVirtualDisk[];
};

export type FakeVirtualTarget = {
  vtd: string;
  lun: string;
  backing: string;
  physloc?: string;
  /** Its backing device was removed and the VTD never `rmvdev`'d: `Defined` after every boot. */
  stale?: boolean;
  /** Configured in this boot before the rest (`configureVios(model, [vtd])`). */
  configured?: boolean;
};

export type FakeVios = {
  running: boolean;
  lpar: { id: number; name: string };
  machine: string;
  systemId: string;
  bootedAt: number;
  /** The VIOS configured its virtual devices: targets `Available`, else `Defined`. */
  configured: boolean;
  vhosts: { name: string; slot: number; client: number; targets: FakeVirtualTarget[] }[];
  vfchosts: {
    name: string;
    slot: number;
    client: number;
    clientName: string;
    clientOs: string;
    fc?: string;
    fcLoc?: string;
    /** Its client partition runs (it logs in once the VIOS is configured and the port on the fabric). */
    loggedIn: boolean;
    /** The physical port is logged into the fabric (cable, switch port up); default true. */
    portOnFabric?: boolean;
    clientSlot?: number;
  }[];
};

export type FakeServerModel = { now: number | null; ldoms: FakeLdoms | null; vios: FakeVios | null };

export function loadServerModel(root: string): FakeServerModel;
export function saveServerModel(root: string, model: FakeServerModel): void;
export function updateServerModel<Result>(root: string, change: (model: FakeServerModel) => Result): Result;
export function serverNow(model: FakeServerModel): number;
export function logServerCommand(root: string, argv: readonly string[]): void;
export function serverCommands(root: string): string[][];
