import type { DraftOf } from '../../probes/event-draft.ts';
import type { PartitionIdentity } from '../../probes/partition-identity.ts';
import type { AgentConfig } from '../config.ts';
import type { AgentLog } from '../state/agent-log.ts';
import { MAX_RECORDED_SERVING_UNITS, type ServeStateStore } from './serve-state.ts';
import { hostingIdentity, readBoot, type ServerTools } from './server-host.ts';
import type { OwnDomains, ServerCheck, ServerRole } from './server-role.ts';
import { createServingCheck, type ServingCheck } from './serving-check.ts';

/**
 * A hosting partition (a VIOS, or an IBM i hosting its clients' disks): it serves
 * `vscsi:<system>/<partition>`. At every check it reads its boot and runs its serving check; while
 * the check fails it lists nothing in `serves` and announces nothing. Once it passes, it lists its
 * domain, and if this boot is not the one it last announced, emits `ipl.completed` once
 * (`bootedAt`: the kernel's boot time). A restart of the agent in the same boot announces nothing,
 * and so does an NTP step, which moves the boot time but not the boot key.
 *
 * A check that could not run (`lsmap` timed out or failed) says nothing: the last answer of this
 * boot stands (this agent process lives within one boot), so a serving VIOS keeps its domain in
 * `serves` through a slow `lsmap`, and one that has not served yet in this boot still does not.
 * A VIOS that serves records what served (`serve.json`), which its serving check weighs after the
 * next boot (serving-check.ts).
 */

const isPowerOfTwo = (value: number): boolean => value > 0 && (value & (value - 1)) === 0;

export class HostingRole implements ServerRole {
  readonly role = 'hosting' as const;
  private identity: PartitionIdentity | undefined;
  private readonly servingCheck: ServingCheck;
  private failures = 0;
  private serving: boolean | undefined;
  private identityFailure: string | undefined;
  /** What the last serving answer served without (left-over devices), to warn once per change. */
  private ignored = '';

  constructor(
    private readonly config: Pick<AgentConfig, 'platform' | 'root' | 'hostId'> & {
      hosting: NonNullable<AgentConfig['hosting']>;
    },
    private readonly bootId: string,
    private readonly state: ServeStateStore,
    private readonly tools: ServerTools,
    private readonly log: AgentLog,
  ) {
    this.servingCheck = createServingCheck(config.hosting.servingCheck, tools.run);
  }

  private async identify(): Promise<PartitionIdentity | undefined> {
    if (this.identity !== undefined) return this.identity;
    const result = await hostingIdentity(
      {
        platform: this.config.platform,
        root: this.config.root,
        configured: this.config.hosting.failureDomain,
      },
      this.tools,
    );
    if (!result.ok) {
      if (this.identityFailure !== result.reason)
        this.log.error(`cannot name this partition's failure domain: ${result.reason}`);
      this.identityFailure = result.reason;
      return undefined;
    }
    this.identity = result.identity;
    this.log.info('hosting partition', { ...result.identity });
    const domains = [result.identity.failureDomain];
    if (JSON.stringify(this.state.state.ownDomains) !== JSON.stringify(domains)) {
      this.state.update((state) => ({ ...state, ownDomains: domains }));
    }
    return result.identity;
  }

  async check(now: Date): Promise<ServerCheck> {
    const identity = await this.identify();
    const boot = await readBoot(
      { platform: this.config.platform, root: this.config.root, bootId: this.bootId, now },
      this.tools,
    );
    const base = boot.bootedAt === undefined ? {} : { bootedAt: boot.bootedAt };
    if (identity === undefined)
      return { drafts: [], report: { ...base, serves: [] }, commit: () => undefined };

    const result = await this.servingCheck({
      now,
      bootedAt: boot.bootedAt,
      servedBefore: this.state.state.viosServed?.units ?? null,
    });
    if (result.state === 'unknown') {
      // No answer: the last answer of this boot stands, and nothing is announced on it.
      this.failures += 1;
      const serving = this.serving === true;
      if (isPowerOfTwo(this.failures)) {
        this.log.warn(
          `cannot tell whether it serves ${identity.failureDomain}; ${serving ? 'still listing it' : 'not listing it yet'}: ${result.detail}`,
          { failures: this.failures },
        );
      }
      return {
        drafts: [],
        report: { ...base, serves: serving ? [identity.failureDomain] : [] },
        commit: () => undefined,
      };
    }
    if (result.state === 'not-serving') {
      this.failures += 1;
      if (this.serving !== false || isPowerOfTwo(this.failures)) {
        this.log.warn(`not serving ${identity.failureDomain} yet: ${result.detail}`, {
          failures: this.failures,
        });
      }
      this.serving = false;
      return { drafts: [], report: { ...base, serves: [] }, commit: () => undefined };
    }
    if (this.serving !== true) this.log.info(`serving ${identity.failureDomain}: ${result.detail}`);
    this.serving = true;
    this.failures = 0;
    this.noteIgnored(identity.failureDomain, result.ignored ?? []);
    if (result.record !== undefined) this.recordServed(result.record, boot.bootKey, now);

    const announced = this.state.state.announcedBoot;
    if (announced?.bootKey === boot.bootKey && announced.failureDomain === identity.failureDomain) {
      return { drafts: [], report: { ...base, serves: [identity.failureDomain] }, commit: () => undefined };
    }
    const bootedAt = boot.bootedAt ?? now.toISOString();
    const draft: DraftOf<'ipl.completed'> = {
      type: 'ipl.completed',
      subject: this.config.hostId,
      data: {
        partition: identity.partition,
        system: identity.system,
        failureDomain: identity.failureDomain,
        bootedAt,
      },
    };
    return {
      drafts: [draft],
      report: { ...base, serves: [identity.failureDomain] },
      commit: () =>
        this.state.update((state) => ({
          ...state,
          announcedBoot: {
            bootKey: boot.bootKey,
            bootedAt,
            announcedAt: now.toISOString(),
            failureDomain: identity.failureDomain,
          },
        })),
    };
  }

  /** Warns of what it serves without (left-over devices) when that changes. */
  private noteIgnored(failureDomain: string, ignored: readonly string[]): void {
    const text = ignored.slice(0, 5).join('; ');
    if (text === this.ignored) return;
    this.ignored = text;
    if (ignored.length > 0)
      this.log.warn(`serving ${failureDomain} without ${ignored.length} device(s): ${text}`, {
        ignored: ignored.length,
      });
  }

  /** Remembers what served, for the serving check after the next boot; written only when it changes. */
  private recordServed(units: readonly string[], bootKey: string, now: Date): void {
    const kept = units.slice(0, MAX_RECORDED_SERVING_UNITS);
    const recorded = this.state.state.viosServed;
    if (
      recorded !== undefined &&
      recorded.bootKey === bootKey &&
      recorded.units.length === kept.length &&
      recorded.units.every((unit, index) => unit === kept[index])
    )
      return;
    this.state.update((state) => ({
      ...state,
      viosServed: { units: kept, bootKey, recordedAt: now.toISOString() },
    }));
  }

  async ownDomains(): Promise<OwnDomains> {
    const identity = await this.identify();
    if (identity !== undefined) return { domains: [identity.failureDomain] };
    const recorded = this.state.state.ownDomains;
    if (recorded !== undefined && recorded.length > 0) return { domains: recorded };
    return { domains: [], reason: this.identityFailure ?? 'this partition has no failure domain' };
  }
}
