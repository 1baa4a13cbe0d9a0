import type { Clock } from '../../functions/adapters/queue/sqlite-queue.ts';

/** A clock that moves only when a test moves it, for the SQLite queue's visibility and retention. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = Date.parse('2025-03-01T12:00:00.000Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(milliseconds: number): void {
    this.#now += milliseconds;
  }
}
