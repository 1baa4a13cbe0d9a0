import type { MdArrayView } from './host-view.ts';

/**
 * What a dry-run's earlier steps would have changed, so its later steps are checked against the
 * host as it would then be rather than as it is: a member the plan fails is faulty for the
 * `md.remove` that follows, a removed member no longer holds its disk for the `scsi.delete`, a
 * deleted SCSI address is gone until the rescan. In an executed plan the projection stays empty:
 * every step reads the real host.
 */
export class Projection {
  private readonly failed = new Set<string>();
  private readonly removed = new Set<string>();
  private readonly added = new Set<string>();
  private readonly deleted = new Set<string>();
  private readonly rescanned = new Set<string>();

  get empty(): boolean {
    return (
      this.failed.size + this.removed.size + this.added.size + this.deleted.size + this.rescanned.size === 0
    );
  }

  fail(array: string, member: string): void {
    this.failed.add(`${array}/${member}`);
  }

  remove(array: string, member: string): void {
    this.removed.add(`${array}/${member}`);
  }

  add(array: string, member: string): void {
    this.removed.delete(`${array}/${member}`);
    this.failed.delete(`${array}/${member}`);
    this.added.add(`${array}/${member}`);
  }

  deleteAddress(hctl: string): void {
    this.deleted.add(hctl);
  }

  rescanAddress(hctl: string): void {
    this.rescanned.add(hctl);
  }

  /** Whether an address was deleted by an earlier step and not yet rescanned. */
  addressDeleted(hctl: string): boolean {
    return this.deleted.has(hctl) && !this.rescanned.has(hctl);
  }

  /** Whether an address was deleted and rescanned: what comes back cannot be known in advance. */
  addressReplaced(hctl: string): boolean {
    return this.deleted.has(hctl) && this.rescanned.has(hctl);
  }

  /** Whether an earlier step removed this member from this array. */
  memberRemoved(array: string, member: string): boolean {
    return this.removed.has(`${array}/${member}`);
  }

  /** The array as it would be after the projected steps. */
  applyTo(view: MdArrayView): MdArrayView {
    if (this.empty) return view;
    const key = (member: string) => `${view.array}/${member}`;
    const members = view.members
      .filter((member) => !this.removed.has(key(member.device)))
      .map((member) =>
        this.failed.has(key(member.device)) ? { ...member, state: 'faulty' as const } : member,
      );
    for (const entry of this.added) {
      const [array, device] = entry.split('/');
      if (
        array !== view.array ||
        device === undefined ||
        members.some((member) => member.device === device)
      ) {
        continue;
      }
      members.push({ device, disk: null, state: 'rebuilding', detached: false });
    }
    return { ...view, members };
  }
}
