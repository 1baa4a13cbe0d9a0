import type { HostSnapshot } from '../../events/index.ts';
import type { ArraySync } from './scan.ts';

/**
 * `faultline-agent scan` without `--json`: the snapshot as aligned tables for an operator at a
 * terminal, one section per kind of storage (the state database replicas per slice on an SVM host),
 * empty sections left out. Pure.
 */
export const formatSnapshotTable = (
  snapshot: HostSnapshot,
  sync: Readonly<Record<string, ArraySync>> = {},
): string => {
  const sections: string[] = [
    `host ${snapshot.hostId}  platform ${snapshot.platform}  role ${snapshot.role}  boot ${snapshot.bootId}  taken ${snapshot.takenAt}`,
  ];
  if (snapshot.arrays.length > 0) {
    const rows: string[][] = [
      ['ARRAY', 'KIND', 'LEVEL', 'STATE', 'MEMBER', 'DISK', 'MEMBER STATE', 'FAILURE DOMAIN'],
    ];
    for (const array of snapshot.arrays) {
      const progress = sync[array.array]?.progress;
      const state = progress === null || progress === undefined ? array.state : `${array.state} ${progress}%`;
      const head = [array.array, array.kind, array.level, state];
      if (array.members.length === 0) rows.push([...head, '-', '-', '-', '-']);
      array.members.forEach((member, index) => {
        const label =
          member.submirror === undefined ? member.device : `${member.device} (${member.submirror})`;
        rows.push([
          ...(index === 0 ? head : ['', '', '', '']),
          label,
          member.disk,
          member.state,
          member.failureDomain,
        ]);
      });
    }
    sections.push(alignColumns(rows));
  }
  if (snapshot.maps.length > 0) {
    const rows: string[][] = [['MAP', 'WWID', 'PATH', 'HCTL', 'STATE', 'FAILURE DOMAIN']];
    for (const map of snapshot.maps) {
      if (map.paths.length === 0) rows.push([map.map, map.wwid, '-', '-', '-', '-']);
      map.paths.forEach((path, index) => {
        rows.push([
          index === 0 ? map.map : '',
          index === 0 ? map.wwid : '',
          path.path,
          path.hctl,
          path.state,
          path.failureDomain,
        ]);
      });
    }
    sections.push(alignColumns(rows));
  }
  if (snapshot.disks.length > 0) {
    const rows: string[][] = [['DISK', 'HCTL', 'HOST', 'DRIVER', 'SIZE', 'STATE', 'FAILURE DOMAIN']];
    for (const disk of snapshot.disks) {
      rows.push([
        disk.disk,
        disk.hctl ?? '-',
        disk.scsiHost ?? '-',
        disk.driver,
        disk.sizeBytes === undefined ? '-' : humanSize(disk.sizeBytes),
        disk.deviceState ?? '-',
        disk.failureDomain,
      ]);
    }
    sections.push(alignColumns(rows));
  }
  if (snapshot.replicas !== undefined) {
    const rows: string[][] = [['REPLICA SLICE', 'COUNT', 'ACTIVE', 'IN ERROR']];
    for (const slice of snapshot.replicas) {
      rows.push([slice.slice, String(slice.count), String(slice.active), String(slice.erred)]);
    }
    sections.push(alignColumns(rows));
  }
  if (snapshot.domains.length > 0) {
    const rows: string[][] = [['DOMAIN', 'STATE', 'FLAGS']];
    for (const domain of snapshot.domains) rows.push([domain.name, domain.state, domain.flags]);
    sections.push(alignColumns(rows));
  }
  if (sections.length === 1) sections.push('no arrays, multipath maps, disks or domains found');
  return `${sections.join('\n\n')}\n`;
};

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;
const BINARY_STEP = 1024;

/** 53687091200 → `50.0 GiB`. */
export const humanSize = (bytes: number): string => {
  let value = bytes;
  let unit = 0;
  while (value >= BINARY_STEP && unit < UNITS.length - 1) {
    value /= BINARY_STEP;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
};

const alignColumns = (rows: string[][]): string => {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};
