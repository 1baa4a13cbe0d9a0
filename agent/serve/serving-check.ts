import { parseLsmap, parseLsmapNpiv, viosServing } from '../../probes/vios-lsmap.ts';
import type { ServingCheckConfig } from '../config.ts';
import { describeResult, type RunServerCommand } from './server-commands.ts';

/**
 * Whether a hosting partition serves its clients again (docs/architecture.md §5.2): it lists its
 * domain in `serves`, and announces its IPL, only once this passes, never merely because it booted.
 *
 * - `vios`: `ioscli lsmap -all`: every virtual target device `Available` (a VIOS early in its boot,
 *   or one whose adapters were unconfigured, shows them `Defined`); `ioscli lsmap -all -npiv`
 *   adds the virtual FC adapters mapped to a physical port. Something must be mapped.
 * - a command: exit 0 means serving; anything else, a timeout included, means not yet.
 */

export type ServingResult = { serving: boolean; detail: string };

export type ServingCheck = () => Promise<ServingResult>;

const VIOS_COMMAND_TIMEOUT_MS = 60_000;

export const createServingCheck = (check: ServingCheckConfig, run: RunServerCommand): ServingCheck => {
  if (check === 'vios') {
    return async () => {
      const vscsiArgv = ['ioscli', 'lsmap', '-all'];
      const vscsi = await run(vscsiArgv, { timeoutMs: VIOS_COMMAND_TIMEOUT_MS });
      if (vscsi.exitCode !== 0) return { serving: false, detail: describeResult(vscsiArgv, vscsi) };
      const npivArgv = ['ioscli', 'lsmap', '-all', '-npiv'];
      const npiv = await run(npivArgv, { timeoutMs: VIOS_COMMAND_TIMEOUT_MS });
      const verdict = viosServing(
        parseLsmap(vscsi.stdout),
        npiv.exitCode === 0 ? parseLsmapNpiv(npiv.stdout) : null,
      );
      const mapped = `${verdict.targets} virtual target device(s), ${verdict.mappedNpivAdapters} mapped virtual FC adapter(s)`;
      return verdict.serving
        ? { serving: true, detail: `lsmap: ${mapped}, every target Available` }
        : { serving: false, detail: `lsmap: ${verdict.reasons.slice(0, 5).join('; ')}` };
    };
  }
  return async () => {
    const result = await run(check.command, { timeoutMs: check.timeoutSeconds * 1000 });
    return { serving: result.exitCode === 0, detail: describeResult(check.command, result) };
  };
};
