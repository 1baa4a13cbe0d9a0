import { dd } from './fake-dd.mjs';
import { mdadm } from './fake-mdadm.mjs';
import { multipathd } from './fake-multipathd.mjs';
import { metadb, metareplace, metastat } from './fake-svm-tools.mjs';
import { loadModel, logRead } from './host-model.mjs';
import { toolResult } from './tool-result.mjs';

/**
 * The fake storage tools: `mdadm`, `multipathd`, `metareplace`, `metastat`, `metadb`, `udevadm`,
 * `dd` and Solaris `kstat` (the boot time only), each a function of its argument vector and the
 * fake root that reads and changes the host model as the real tool would, printing what the real tool prints (the formats the probes'
 * parsers read), including the real tools' refusals: `--re-add` of a stale member without a bitmap
 * ("mdadm: --re-add for /dev/sdb1 to /dev/md0 is not possible"), `--add` of a device that "reports
 * being an active member" (mdadm 3.1.5 to 3.2.3; 4.x rebuilds it in full), `--zero-superblock` of
 * a device in use ("Couldn't open ... for write - not zeroing"), failing the last in-sync member
 * (EBUSY from the kernel), a device too small. Like the
 * real tools they also do what the executor must never ask for: `--add` over another array's
 * superblock or over a newer stale half, `metareplace -e` of a Last Erred component.
 *
 * Each tool is in its own module (fake-mdadm.mjs, fake-multipathd.mjs, fake-svm-tools.mjs,
 * fake-dd.mjs); this one runs them by name. The executables on the test's PATH are small
 * `#!/usr/bin/env node` scripts that call `main`; property tests call `runTool` in process to
 * spare a process per call. A tool that hangs as the real one would (dd reading a blocked device)
 * answers `hangs: true`: its executable then never exits until it is killed.
 */

const udevadm = (root, argv) => {
  logRead(root, { argv: ['udevadm', ...argv] });
  return argv[0] === 'settle'
    ? toolResult(0)
    : toolResult(2, '', `udevadm: unknown command ${argv[0] ?? ''}\n`);
};

/**
 * Solaris `kstat -p unix:0:system_misc:boot_time` (kstat(1M), Solaris 10 and 11), where the sh
 * agent (agent/sh/faultline-agent.sh) reads the boot: `-p` prints each statistic as
 * `module:instance:name:statistic<TAB>value`, and `boot_time` is the boot in seconds since the
 * epoch (the model's `btime`). Only that statistic is modelled. Exit status as kstat(1M) gives it:
 * 0 when one or more statistics matched, 1 when none did, 2 for an invalid command line (the
 * message of that case is this fake's, not checked against a host). A host that is not Solaris has
 * no kstat.
 */
const BOOT_TIME_STATISTIC = 'unix:0:system_misc:boot_time';
const kstat = (root, argv) => {
  logRead(root, { argv: ['kstat', ...argv] });
  const model = loadModel(root);
  if (model.platform !== 'solaris') return toolResult(127, '', 'kstat: command not found\n');
  const [option, spec, ...rest] = argv;
  if (option !== '-p' || spec === undefined || rest.length > 0) {
    return toolResult(2, '', `kstat: ${argv.join(' ')}: not simulated (only -p ${BOOT_TIME_STATISTIC})\n`);
  }
  if (spec !== BOOT_TIME_STATISTIC) return toolResult(1);
  return toolResult(0, `${BOOT_TIME_STATISTIC}\t${model.btime}\n`);
};

const TOOLS = { mdadm, multipathd, metareplace, metastat, metadb, udevadm, dd, kstat };
export const TOOL_NAMES = Object.keys(TOOLS);

/** Runs a fake tool in process: `{code, stdout, stderr}`, and `hangs` when the real one would never return. */
export const runTool = (name, argv, root) => {
  const tool = TOOLS[name];
  if (tool === undefined) return toolResult(127, '', `${name}: command not found\n`);
  return tool(root, argv);
};

/** The entry point of a generated executable. */
export const main = (name, root) => {
  const { code, stdout, stderr, hangs } = runTool(name, process.argv.slice(2), root);
  if (hangs === true) {
    // Blocked in the kernel: no output, no exit, until a signal ends the process.
    setInterval(() => undefined, 1 << 30);
    return;
  }
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  process.exitCode = code;
};
