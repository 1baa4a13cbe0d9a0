import { vscsiFailureDomain } from '../probes/failure-domain.ts';

/**
 * A managed system of the simulated fleet (an IBM Power server under one HMC): its machine type,
 * model and serial, named every way its partitions see it. The location codes of its virtual
 * adapters start with `U<type>.<model>.<serial>` (a client's `vhost_loc`, the fake host's
 * `system`), a VIOS's `uname -M` and `uname -u` say `IBM,<type>-<model>` and `IBM,02<serial>`, and
 * the HMC names it `Server-<type>-<model>-SN<serial>`, the system part of every
 * `vscsi:<system>/<partition>` failure domain (probes/failure-domain.ts), which a client and its
 * hosting partition derive alike.
 */

export type ManagedSystem = {
  /** Machine type, four characters (`9080`). */
  type: string;
  /** Model, three characters (`M9S`). */
  model: string;
  /** Serial, seven characters (`78AB12C`). */
  serial: string;
};

/** The system of the demo's md clients, vios1 and vios2. */
export const DEMO_SYSTEM: ManagedSystem = { type: '9080', model: 'M9S', serial: '78AB12C' };

/** The prefix of its location codes, as the fake host model keeps it (`U9080.M9S.78AB12C`). */
export const locationPrefix = (system: ManagedSystem): string =>
  `U${system.type}.${system.model}.${system.serial}`;

/** As the HMC names it by default: `Server-9080-M9S-SN78AB12C`. */
export const hmcName = (system: ManagedSystem): string =>
  `Server-${system.type}-${system.model}-SN${system.serial}`;

/** The failure domain of a hosting partition of `system`: `vscsi:Server-...-SN.../<partition>`. */
export const vscsiDomain = (partition: string, system: ManagedSystem = DEMO_SYSTEM): string => {
  const domain = vscsiFailureDomain(hmcName(system), partition);
  if (domain === null) throw new Error(`no vscsi failure domain for ${partition} on ${hmcName(system)}`);
  return domain;
};
