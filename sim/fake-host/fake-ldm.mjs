import { loadServerModel, logServerCommand, saveServerModel, serverNow } from './server-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake Logical Domains Manager CLI of an LDoms control domain (`ldm`, Oracle VM Server for
 * SPARC 3.x, `ldm(8)`), over the `ldoms` part of server-model.mjs:
 *
 * - `ldm list -p` (`ls`, `list-domain`, `ls-dom`): `VERSION 1.6`, then per domain
 *   `DOMAIN|name=|state=|flags=|cons=|ncpu=|mem=|util=|uptime=|norm_util=`; `util` and `uptime`
 *   empty for a domain that is not active. Flags are the six columns of `ldm(8)`: `s` starting or
 *   stopping, `n` normal or `t` transition, `c` control domain, `v` virtual I/O service domain.
 * - `ldm list -o disk -p`: per domain `DOMAIN|name=...|`, its services (`VDS|name=|nclients=`
 *   with `|vol=|opts=|dev=|mpgroup=` lines) and its disks
 *   (`VDISK|name=|vol=<volume>@<service>|timeout=|dev=disk@<id>|server=|mpgroup=|id=`).
 * - `ldm list-services -p` (`ls-services`): `VDS|name=|ldom=` and its volumes.
 * - `ldm stop [-f] <domain>`: `LDom <domain> stopped`; the domain is `bound`.
 * - `ldm start <domain>`: `LDom <domain> started`; the domain is `active`, in transition (`t`)
 *   through OpenBoot and its boot for `bootSeconds`, then normal, its uptime counting from the start.
 *
 * A domain rebooted from inside (`init 6` in it) is reset by the hypervisor: still `active`, in
 * transition, its uptime from zero: `resetDomain` in this module does that.
 *
 * Failures, as the real tool: with the Logical Domains Manager daemon down (`ldmd: false`) every
 * command fails with `Failed to connect to logical domain manager: Connection refused`, exit 1.
 * Unmodelled: the human-readable tables of `list -o` and `list-services` (the agent reads `-p`)
 * print `ldm: <subcommand> without -p is not simulated` and exit 2; the text of a refusal of an
 * unknown domain (`LDom <name> not found`) is this fake's wording, not checked against a host.
 */

const DAEMON_DOWN = 'Failed to connect to logical domain manager: Connection refused\n';

const running = (domain, now) =>
  domain.state === 'active' && now >= domain.startedAt + (domain.bootSeconds ?? 0) * 1000;

const flagsOf = (domain, now) => {
  if (domain.state !== 'active') return `---${domain.control ? 'c' : '-'}${domain.service ? 'v' : '-'}-`;
  return `-${running(domain, now) ? 'n' : 't'}-${domain.control ? 'c' : '-'}${domain.service ? 'v' : '-'}-`;
};

const domainLine = (domain, now) => {
  const active = domain.state === 'active';
  const uptime = active ? String(Math.max(0, Math.floor((now - domain.startedAt) / 1000))) : '';
  const util = active ? '0.4' : '';
  return [
    'DOMAIN',
    `name=${domain.name}`,
    `state=${domain.state}`,
    `flags=${flagsOf(domain, now)}`,
    `cons=${active ? (domain.cons ?? (domain.control ? 'UART' : '5000')) : ''}`,
    `ncpu=${domain.ncpu ?? 8}`,
    `mem=${domain.mem ?? 17179869184}`,
    `util=${util}`,
    `uptime=${uptime}`,
    `norm_util=${util}`,
  ].join('|');
};

const volumeLine = (volume) =>
  `|vol=${volume.vol}|opts=${volume.opts ?? ''}|dev=${volume.dev}|mpgroup=${volume.mpgroup ?? ''}`;

const selected = (ldoms, names) => {
  const unknown = names.find((name) => !ldoms.domains.some((domain) => domain.name === name));
  if (unknown !== undefined) return { error: toolResult(1, '', `LDom ${unknown} not found\n`) };
  return {
    domains:
      names.length === 0 ? ldoms.domains : ldoms.domains.filter((domain) => names.includes(domain.name)),
  };
};

const listDomains = (ldoms, names, now) => {
  const chosen = selected(ldoms, names);
  if (chosen.error) return chosen.error;
  return toolResult(
    0,
    `VERSION 1.6\n${chosen.domains.map((domain) => domainLine(domain, now)).join('\n')}\n`,
  );
};

const listDisks = (ldoms, names) => {
  const chosen = selected(ldoms, names);
  if (chosen.error) return chosen.error;
  const lines = ['VERSION 1.6'];
  for (const domain of chosen.domains) {
    lines.push(`DOMAIN|name=${domain.name}|`);
    for (const service of ldoms.services.filter((candidate) => candidate.domain === domain.name)) {
      const clients = new Set(
        ldoms.vdisks.filter((vdisk) => vdisk.service === service.name).map((vdisk) => vdisk.guest),
      ).size;
      lines.push(`VDS|name=${service.name}|nclients=${clients}`, ...service.volumes.map(volumeLine));
    }
    for (const vdisk of ldoms.vdisks.filter((candidate) => candidate.guest === domain.name)) {
      const server = ldoms.services.find((service) => service.name === vdisk.service)?.domain ?? '';
      lines.push(
        `VDISK|name=${vdisk.name}|vol=${vdisk.volume}@${vdisk.service}|timeout=|dev=disk@${vdisk.id}|server=${server}|mpgroup=${vdisk.mpgroup ?? ''}|id=${vdisk.id}`,
      );
    }
  }
  return toolResult(0, `${lines.join('\n')}\n`);
};

const listServices = (ldoms) => {
  const lines = ['VERSION 1.6'];
  for (const domain of ldoms.domains) {
    if (domain.control) lines.push(`VCC|name=${domain.name}-vcc0|ldom=${domain.name}|port-range=5000-5100`);
    for (const service of ldoms.services.filter((candidate) => candidate.domain === domain.name)) {
      lines.push(`VDS|name=${service.name}|ldom=${service.domain}`, ...service.volumes.map(volumeLine));
    }
  }
  return toolResult(0, `${lines.join('\n')}\n`);
};

const LIST = new Set(['list', 'ls', 'list-domain', 'ls-dom']);
const LIST_SERVICES = new Set(['list-services', 'ls-services']);

/** `ldm` with its argument vector, on the host at `root`. */
export const ldm = (root, argv) => {
  logServerCommand(root, ['ldm', ...argv]);
  const model = loadServerModel(root);
  const ldoms = model.ldoms;
  if (ldoms === null || ldoms === undefined) return toolResult(127, '', 'ldm: not found\n');
  if (ldoms.ldmd === false) return toolResult(1, '', DAEMON_DOWN);
  const now = serverNow(model);
  const [subcommand = '', ...rest] = argv;
  const parseable = rest.includes('-p');
  const outputIndex = rest.indexOf('-o');
  const format = outputIndex >= 0 ? rest[outputIndex + 1] : undefined;
  const names = rest.filter(
    (arg, index) => !arg.startsWith('-') && !(outputIndex >= 0 && index === outputIndex + 1),
  );
  if (LIST.has(subcommand)) {
    if (!parseable) return toolResult(2, '', `ldm: ${subcommand} without -p is not simulated\n`);
    if (format === 'disk') return listDisks(ldoms, names);
    if (format !== undefined) return toolResult(2, '', `ldm: ${subcommand} -o ${format} is not simulated\n`);
    return listDomains(ldoms, names, now);
  }
  if (LIST_SERVICES.has(subcommand)) {
    if (!parseable) return toolResult(2, '', `ldm: ${subcommand} without -p is not simulated\n`);
    return listServices(ldoms);
  }
  if (
    subcommand === 'stop' ||
    subcommand === 'stop-domain' ||
    subcommand === 'start' ||
    subcommand === 'start-domain'
  ) {
    const [name] = names;
    const domain = ldoms.domains.find((candidate) => candidate.name === name);
    if (name === undefined) return toolResult(1, '', `Usage:\n\tldm ${subcommand} <ldom>\n`);
    if (domain === undefined) return toolResult(1, '', `LDom ${name} not found\n`);
    if (subcommand.startsWith('stop')) {
      if (domain.state !== 'active') return toolResult(1, '', `LDom ${name} is not active\n`);
      domain.state = 'bound';
      domain.startedAt = null;
      saveServerModel(root, model);
      return toolResult(0, `LDom ${name} stopped\n`);
    }
    if (domain.state === 'active') return toolResult(1, '', `LDom ${name} is already active\n`);
    domain.state = 'active';
    domain.startedAt = now;
    saveServerModel(root, model);
    return toolResult(0, `LDom ${name} started\n`);
  }
  return toolResult(1, '', `Unknown command ${subcommand}\n`);
};

/** A reboot from inside the domain: the hypervisor resets it, still `active`, its uptime from zero. */
export const resetDomain = (model, name) => {
  const domain = model.ldoms.domains.find((candidate) => candidate.name === name);
  if (domain === undefined) throw new Error(`no domain ${name}`);
  domain.state = 'active';
  domain.startedAt = serverNow(model);
};

/**
 * A control domain `primary` with an `alternate` service domain, each running a virtual disk
 * service, and guests whose disks come from both: the demo's and the tests' LDoms layout.
 */
export const ldomsLayout = (options = {}) => {
  const startedAt = options.startedAt ?? Date.parse('2026-11-10T08:00:00.000Z');
  const guests = options.guests ?? ['ldg1'];
  return {
    ldmd: true,
    domains: [
      {
        name: 'primary',
        state: 'active',
        control: true,
        service: true,
        startedAt,
        bootSeconds: 0,
        cons: 'UART',
        ncpu: 16,
        mem: 34359738368,
      },
      {
        name: 'alternate',
        state: 'active',
        service: true,
        startedAt,
        bootSeconds: options.bootSeconds ?? 60,
        ncpu: 8,
        mem: 17179869184,
      },
      ...guests.map((name, index) => ({
        name,
        state: 'active',
        startedAt,
        bootSeconds: 60,
        cons: String(5001 + index),
      })),
    ],
    services: [
      {
        name: 'primary-vds0',
        domain: 'primary',
        volumes: guests.map((guest) => ({
          vol: `${guest}-disk0`,
          dev: `/dev/zvol/dsk/rpool/${guest}-disk0`,
        })),
      },
      {
        name: 'alternate-vds0',
        domain: 'alternate',
        volumes: guests.map((guest) => ({
          vol: `${guest}-disk1`,
          dev: `/dev/zvol/dsk/rpool/${guest}-disk1`,
        })),
      },
    ],
    vdisks: guests.flatMap((guest) => [
      { guest, name: 'vdisk0', volume: `${guest}-disk0`, service: 'primary-vds0', id: 0 },
      { guest, name: 'vdisk1', volume: `${guest}-disk1`, service: 'alternate-vds0', id: 1 },
    ]),
  };
};
