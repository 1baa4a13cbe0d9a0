/**
 * The correlation core (docs/architecture.md §2, §5): pure, deterministic, no I/O. Handlers load the slices
 * `keysFor` names, call `decide` or `tick`, save the changed slices with their effects, then
 * perform the effects.
 */
export { CoreConfig, type CoreConfigInput, DEFAULT_CORE_CONFIG, Runbook, RunbookMode } from './config.ts';
export { decide, keysFor, keysForWake, tick } from './decide.ts';
export { runbookOf } from './episodes.ts';
export {
  type Exposure,
  exposedDomainsOf,
  exposuresOf,
  inSyncDomainsOf,
  isMapSinglePointOfFailure,
  isPathUsable,
  isSinglePointOfFailure,
  losesLastInSyncHalf,
  mapLosesAllActivePaths,
  mapsOf,
  pathDomainsOf,
} from './exposure.ts';
export { freshDomain, freshHost, referencedDomains, servedOf, storageDomains } from './host.ts';
export * from './model.ts';
export { toMs, toTime } from './time.ts';
export { waitingBatch } from './waves.ts';
