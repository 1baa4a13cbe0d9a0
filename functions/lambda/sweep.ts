import { z } from 'zod';
import type { SweepDeps } from '../sweep/deps.ts';
import { DecidingEnv, decidingResources, decidingSettings } from './deciding.ts';
import { type Env, once, parseEnv, sqsClient } from './environment.ts';
import { lambdaObservability } from './observability.ts';

/**
 * sweep's composition root on Lambda: its dependencies from its environment, validated once on the
 * first run (clients made then, never at import). Besides the variables of the store and of
 * deciding (store.ts, deciding.ts):
 * - `FAULTLINE_SWEEP_GRACE_SECONDS`: decision records younger than this are left to the correlate
 *   writing them (default 60).
 * - `FAULTLINE_SWEEP_FINISH_LIMIT`, `FAULTLINE_SWEEP_TICK_LIMIT`: per run (default 500 each).
 * Logs and metrics: ./observability.ts (each run also counts the open incidents by kind).
 */
const SweepEnv = DecidingEnv.extend({
  FAULTLINE_SWEEP_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  FAULTLINE_SWEEP_FINISH_LIMIT: z.coerce.number().int().min(1).max(10_000).default(500),
  FAULTLINE_SWEEP_TICK_LIMIT: z.coerce.number().int().min(1).max(10_000).default(500),
});

export const sweepFromEnv = (env: Env = process.env): SweepDeps => {
  const parsed = once(() => parseEnv(SweepEnv, env, 'sweep'));
  const shared = once(() => decidingSettings(parsed(), 'sweep'));
  const settings = once(() => ({
    core: shared().core,
    graceSeconds: parsed().FAULTLINE_SWEEP_GRACE_SECONDS,
    finishLimit: parsed().FAULTLINE_SWEEP_FINISH_LIMIT,
    tickLimit: parsed().FAULTLINE_SWEEP_TICK_LIMIT,
  }));
  const { log, metrics } = lambdaObservability('sweep', env);
  return {
    get settings() {
      return settings();
    },
    log,
    metrics,
    ...decidingResources(shared, sqsClient(shared)),
  };
};
