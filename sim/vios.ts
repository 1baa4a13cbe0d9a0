import { setTimeout as delay } from 'node:timers/promises';
import type { AnnounceSummary } from '../agent/commands/announce.ts';
import { configureVios, iplVios } from './fake-host/fake-vios.mjs';
import { loadModel } from './fake-host/host-model.mjs';
import type { FakeVios } from './fake-host/server-model.d.mts';
import { type ManagedSystem, vscsiDomain } from './managed-system.ts';
import { type SimServerOptions, SimulatedServer } from './simulated-server.ts';

/**
 * A simulated Virtual I/O Server running the real agent as role `hosting` (docs/architecture.md §3
 * "Who says a server is down or back", §5.2), on AIX with the `vios` serving check: it names
 * itself with `uname -L`, `-M` and `-u` (`vscsi:Server-<type>-<model>-SN<serial>/<partition>`), keys
 * its boot by `who -b` and dates it by uptime, and serves once `ioscli lsmap -all` (and `-all
 * -npiv`) shows the targets and NPIV clients that served before `Available` and logged in again. The fakes answer from its adapters: one virtual SCSI server
 * adapter per vSCSI client, one virtual FC server adapter per NPIV client.
 *
 * Its life: `shutdown` is `shutdown -restart` on the VIOS: `/etc/rc.shutdown` runs
 * `faultline-agent announce going-down` through the running agent, then the agent and the VIOS
 * stop. `ipl` boots it anew (a new boot id, a new boot record) and starts the agent, which lists
 * nothing and announces nothing while the target devices are `Defined`; `configure` makes them
 * `Available`, and the agent's next check (within a second) lists its domain in `serves` and emits
 * `ipl.completed` once for the new boot.
 *
 * `who -b` prints the boot record to the minute, and its key names the boot: a boot in the same
 * minute as the shutdown would read as the same boot. A real VIOS IPL takes minutes; the simulated
 * one lasts at least until the minute after its shutdown, then boots.
 */

/** Past the minute boundary, so the boot record's minute is wholly after the shutdown. */
const IPL_MARGIN_MS = 500;

/**
 * A client partition the VIOS serves, by its partition id (its adapters name it), and how many
 * disks it maps to it (one virtual target device each on its vhost; one when absent).
 */
export type ViosClient = { hostId: string; partitionId: number; disks?: number };

/** The volume groups a client's disks are backed by, in order: root first, then data. */
const BACKING_VOLUME_GROUPS = ['rootvg', 'datavg'] as const;

export type SimViosOptions = SimServerOptions & {
  system: ManagedSystem;
  /** Its partition name as the HMC and its clients' `partition_name` show it (default its host id). */
  partition?: string;
  lparId: number;
  vscsiClients: readonly ViosClient[];
  npivClients?: readonly ViosClient[];
};

/** The VIOS of `options`, booted at `bootedAt`, serving its clients. */
const viosModel = (options: SimViosOptions, bootedAt: number): FakeVios => {
  let vtds = 0;
  const targets = (client: ViosClient) =>
    Array.from({ length: client.disks ?? 1 }, (_, disk) => {
      const vtd = `vtscsi${vtds}`;
      vtds += 1;
      return {
        vtd,
        lun: `0x8${disk + 1}00000000000000`,
        backing: `${client.hostId}_${BACKING_VOLUME_GROUPS[disk] ?? `vg${disk}`}`.slice(0, 15),
      };
    });
  return {
    running: true,
    lpar: { id: options.lparId, name: options.partition ?? options.hostId },
    machine: `IBM,${options.system.type}-${options.system.model}`,
    systemId: `IBM,02${options.system.serial}`,
    bootedAt,
    configured: true,
    vhosts: options.vscsiClients.map((client, index) => ({
      name: `vhost${index}`,
      slot: 11 + index,
      client: client.partitionId,
      targets: targets(client),
    })),
    vfchosts: (options.npivClients ?? []).map((client, index) => ({
      name: `vfchost${index}`,
      slot: 30 + index,
      client: client.partitionId,
      clientName: client.hostId,
      clientOs: 'Linux',
      fc: 'fcs0',
      fcLoc: 'U78D3.001.WZS0ABC-P1-C6-T1',
      loggedIn: true,
    })),
  };
};

export class SimVios extends SimulatedServer {
  readonly failureDomain: string;
  /** When its last shutdown ended; undefined while it has not been shut down. */
  #downSince: number | undefined;
  /** Boots since the simulation began (1: the boot it was found in). */
  boots = 1;

  constructor(options: SimViosOptions) {
    super(options, {
      role: 'hosting',
      platform: 'aix',
      server: { now: null, ldoms: null, vios: viosModel(options, Date.now()) },
      section: { hosting: { servingCheck: 'vios' } },
    });
    // The boot record says what the simulated host's boot time says.
    const bootedAt = loadModel(this.host.root).btime * 1000;
    this.updateServer((model) => {
      if (model.vios !== null) model.vios.bootedAt = bootedAt;
    });
    this.failureDomain = vscsiDomain(options.partition ?? options.hostId, options.system);
  }

  /**
   * `shutdown -restart` on the VIOS: `rc.shutdown` announces going-down through the agent (waiting
   * at most `announce.waitSeconds` for delivery), then the agent stops and the VIOS stops serving.
   */
  async shutdown(reason = 'shutdown -restart'): Promise<AnnounceSummary> {
    const announced = await this.announceGoingDown(reason);
    await this.stop();
    this.updateServer((model) => {
      if (model.vios !== null) model.vios.running = false;
    });
    this.#downSince = Date.now();
    return announced;
  }

  /** When `ipl` boots it: at once, or the minute after its shutdown (see the module's comment). */
  iplAt(): number {
    if (this.#downSince === undefined) return Date.now();
    return Math.max(Date.now(), (Math.floor(this.#downSince / 60_000) + 1) * 60_000 + IPL_MARGIN_MS);
  }

  /**
   * The IPL: a new boot (new boot id, boot record now), the agent starts, the target devices stay
   * `Defined` until `configure`.
   */
  async ipl(): Promise<void> {
    const at = this.iplAt();
    if (at > Date.now()) await delay(at - Date.now());
    this.newBoot();
    const bootedAt = loadModel(this.host.root).btime * 1000;
    this.updateServer((model) => iplVios(model, bootedAt));
    this.boots += 1;
    await this.start();
  }

  /** The VIOS has configured its virtual devices: every target `Available`, its serving check passes. */
  configure(): void {
    this.updateServer((model) => configureVios(model));
  }
}
