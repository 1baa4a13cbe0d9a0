import { deviceMinor } from './devices.mjs';
import { loadModel, logAction, logRead, saveModel } from './host-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake `multipathd` (tools.mjs): `show topology` prints the maps as the real daemon does (the
 * format the probes' multipath parser reads), and `reinstate path` brings a failed path back when
 * its device answers, `fail` otherwise.
 */

const topologyText = (model) => {
  const lines = [];
  for (const map of model.multipath) {
    lines.push(`${map.name} (${map.wwid}) ${map.dm} ${map.vendor},${map.product}`);
    lines.push(`size=50G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw`);
    const groups = [...new Set(map.paths.map((path) => path.group))].sort();
    groups.forEach((group, groupIndex) => {
      const lastGroup = groupIndex === groups.length - 1;
      const paths = map.paths.filter((path) => path.group === group);
      const active = paths.some((path) => path.checker === 'ready');
      lines.push(
        `${lastGroup ? '`' : '|'}-+- policy='service-time 0' prio=${active ? 50 : 10} status=${groupIndex === 0 ? 'active' : 'enabled'}`,
      );
      paths.forEach((path, pathIndex) => {
        const branch = pathIndex === paths.length - 1 ? '`-' : '|-';
        const minor = deviceMinor(model, path.device);
        lines.push(
          `${lastGroup ? ' ' : '|'} ${branch} ${path.hctl} ${path.device} 8:${minor} ${path.dmState} ${path.checker} ${path.online}`,
        );
      });
    });
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
};

/** `multipathd` with its argument vector, on the host at `root`. */
export const multipathd = (root, argv) => {
  const model = loadModel(root);
  const command = argv.join(' ');
  if (command === 'show topology' || command === 'show maps topology') {
    logRead(root, { argv: ['multipathd', ...argv] });
    return toolResult(0, topologyText(model));
  }
  const reinstate = /^reinstate path (\S+)$/.exec(command);
  logAction(root, { argv: ['multipathd', ...argv] });
  if (reinstate === null) return toolResult(1, '', `multipathd: unknown command '${command}'\n`);
  const device = reinstate[1];
  for (const map of model.multipath) {
    const path = map.paths.find((candidate) => candidate.device === device);
    if (path === undefined) continue;
    if (path.online !== 'running') return toolResult(1, 'fail\n');
    path.dmState = 'active';
    path.checker = path.checker === 'ghost' ? 'ghost' : 'ready';
    saveModel(root, model);
    return toolResult(0, 'ok\n');
  }
  return toolResult(1, 'fail\n');
};
