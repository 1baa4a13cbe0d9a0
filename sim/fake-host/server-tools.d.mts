/** Types of the servers' fake tools (server-tools.mjs). */
import type { ToolResult } from './tools.d.mts';

export const SERVER_TOOL_NAMES: string[];
export function runServerTool(name: string, argv: readonly string[], root: string): ToolResult;
export function main(name: string, root: string): void;
export function installServerTools(binDir: string, root: string): void;
