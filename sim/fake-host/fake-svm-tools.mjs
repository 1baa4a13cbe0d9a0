import { loadModel, logAction, logRead, saveModel } from './host-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake Solaris Volume Manager tools (tools.mjs): `metastat` and `metadb` print the mirrors
 * and the state database replicas as the real tools do (the formats the probes' parsers read),
 * and `metareplace -e` re-enables an errored component and starts its resync, refusing one that
 * is not errored. Like the real tool it re-enables a Last Erred component too.
 */

const metastatText = (model) => {
  const lines = [];
  for (const mirror of model.svm.mirrors) {
    lines.push(`${mirror.name}: Mirror`);
    mirror.submirrors.forEach((submirror, index) => {
      lines.push(`    Submirror ${index}: ${submirror.name}`);
      lines.push(`      State: ${submirror.state} `);
    });
    lines.push(
      '    Pass: 1',
      '    Read option: roundrobin (default)',
      '    Write option: parallel (default)',
    );
    if (mirror.resync !== null && mirror.resync !== undefined) {
      lines.push(`    Resync in progress: ${Math.floor(mirror.resync)} % done`);
    }
    lines.push(`    Size: ${mirror.blocks} blocks (20 GB)`, '');
    for (const submirror of mirror.submirrors) {
      lines.push(`${submirror.name}: Submirror of ${mirror.name}`);
      lines.push(`    State: ${submirror.state} `);
      const maintenance = submirror.components.find((component) => component.state === 'Maintenance');
      if (maintenance !== undefined)
        lines.push(`    Invoke: metareplace ${mirror.name} ${maintenance.device} <new device>`);
      if (submirror.hotSparePool !== undefined) lines.push(`    Hot spare pool: ${submirror.hotSparePool}`);
      lines.push(`    Size: ${mirror.blocks} blocks (20 GB)`, '    Stripe 0:');
      lines.push('        Device   Start Block  Dbase        State Reloc Hot Spare');
      for (const component of submirror.components) {
        lines.push(
          `        ${component.device}          0     No     ${component.state.padStart(11)}   Yes ${component.hotSpare ?? ''}`,
        );
      }
      lines.push('', '');
    }
  }
  for (const pool of model.svm.hotSparePools ?? []) {
    lines.push(`${pool.name}: ${pool.spares.length} hot spares`);
    lines.push('        Device     Status      Length           Reloc');
    for (const spare of pool.spares)
      lines.push(`        ${spare.device}   ${spare.status}       2097152 blocks   Yes`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
};

const metadbText = (model) =>
  `        flags           first blk       block count\n${model.svm.metadb
    .map(
      (replica) =>
        `    ${replica.flags.padEnd(14)}      16              8192            /dev/dsk/${replica.device}`,
    )
    .join('\n')}\n`;

/** `metastat` with its argument vector, on the host at `root`. */
export const metastat = (root, argv) => {
  logRead(root, { argv: ['metastat', ...argv] });
  const model = loadModel(root);
  if (model.svm === null) return toolResult(1, '', 'metastat: there are no existing databases\n');
  return toolResult(0, metastatText(model));
};

/** `metadb` with its argument vector, on the host at `root`. */
export const metadb = (root, argv) => {
  logRead(root, { argv: ['metadb', ...argv] });
  const model = loadModel(root);
  if (model.svm === null || model.svm.metadb.length === 0)
    return toolResult(1, '', 'metadb: there are no existing databases\n');
  return toolResult(0, metadbText(model));
};

/** `metareplace` with its argument vector, on the host at `root`. */
export const metareplace = (root, argv) => {
  logAction(root, { argv: ['metareplace', ...argv] });
  const model = loadModel(root);
  const [flag, mirrorName, device] = argv;
  if (flag !== '-e' || mirrorName === undefined || device === undefined) {
    return toolResult(1, '', 'usage: metareplace [-s setname] -e mirror component\n');
  }
  const mirror = model.svm?.mirrors.find((candidate) => candidate.name === mirrorName);
  if (mirror === undefined)
    return toolResult(1, '', `metareplace: ${model.hostId}: ${mirrorName}: unit not set up\n`);
  for (const submirror of mirror.submirrors) {
    const component = submirror.components.find((candidate) => candidate.device === device);
    if (component === undefined) continue;
    if (component.state === 'Okay' || component.state === 'Resyncing') {
      return toolResult(
        1,
        '',
        `metareplace: ${model.hostId}: ${mirrorName}: ${device}: component is not in an errored state\n`,
      );
    }
    // Like the real tool, a Last Erred component is re-enabled too: its good blocks are then overwritten.
    component.state = 'Resyncing';
    submirror.state = 'Resyncing';
    mirror.resync = 0;
    saveModel(root, model);
    return toolResult(0, `${mirrorName}: device ${device} is enabled\n`);
  }
  return toolResult(
    1,
    '',
    `metareplace: ${model.hostId}: ${mirrorName}: ${device}: not a component of the mirror\n`,
  );
};
