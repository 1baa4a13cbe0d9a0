import { z } from 'zod';
import { type Env, once, parseEnv, sharedResources, sharedSettings } from '../outbox/runtime.ts';
import type { SweepDeps, SweepSettings } from './handler.ts';

/**
 * sweep's dependencies on Lambda, from its environment, read and validated once on the first run
 * (clients built then, never at import). Besides the shared variables of
 * functions/outbox/runtime.ts:
 *
 * - `FAULTLINE_SWEEP_GRACE_SECONDS`: decision records younger than this are left to the correlate
 *   writing them (default 60).
 * - `FAULTLINE_SWEEP_FINISH_LIMIT`, `FAULTLINE_SWEEP_TICK_LIMIT`: per run (default 500 each).
 */

const SweepEnv = z.object({
  FAULTLINE_SWEEP_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  FAULTLINE_SWEEP_FINISH_LIMIT: z.coerce.number().int().min(1).max(10_000).default(500),
  FAULTLINE_SWEEP_TICK_LIMIT: z.coerce.number().int().min(1).max(10_000).default(500),
});

export const fromEnv = (env: Env = process.env): SweepDeps => {
  const settings = once(() => {
    const shared = sharedSettings(env, 'sweep');
    const own = parseEnv(SweepEnv, env, 'sweep');
    const sweep: SweepSettings = {
      core: shared.core,
      graceSeconds: own.FAULTLINE_SWEEP_GRACE_SECONDS,
      finishLimit: own.FAULTLINE_SWEEP_FINISH_LIMIT,
      tickLimit: own.FAULTLINE_SWEEP_TICK_LIMIT,
    };
    return { shared, sweep };
  });
  const resources = sharedResources(() => settings().shared);
  return {
    get settings() {
      return settings().sweep;
    },
    store: resources.store,
    signer: resources.signer,
    notifyQueue: resources.notifyQueue,
  };
};
