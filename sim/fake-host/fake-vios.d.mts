/** Types of the fake VIOS tools (fake-vios.mjs). */
import type { FakeServerModel, FakeVios } from './server-model.d.mts';
import type { ToolResult } from './tools.d.mts';

export function ioscli(root: string, argv: readonly string[]): ToolResult;
export function uname(root: string, argv: readonly string[]): ToolResult;
export function who(root: string, argv: readonly string[]): ToolResult;
export function iplVios(model: FakeServerModel, bootedAt?: number): void;
export function configureVios(model: FakeServerModel, vtds?: readonly string[]): void;
export function viosLayout(options?: { lparId?: number; name?: string; bootedAt?: number }): FakeVios;
