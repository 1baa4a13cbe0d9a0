/** Types of the fake `ldm` (fake-ldm.mjs). */
import type { FakeLdoms, FakeServerModel } from './server-model.d.mts';
import type { ToolResult } from './tools.d.mts';

export function ldm(root: string, argv: readonly string[]): ToolResult;
export function resetDomain(model: FakeServerModel, name: string): void;
export function ldomsLayout(options?: {
  startedAt?: number;
  guests?: string[];
  bootSeconds?: number;
}): FakeLdoms;
