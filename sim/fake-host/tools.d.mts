/** Types of the simulated tools (tools.mjs). */
export type ToolResult = {
  code: number;
  stdout: string;
  stderr: string;
  /** The real tool would never return (dd reading a blocked device): its executable does not exit. */
  hangs?: boolean;
};
export const TOOL_NAMES: string[];
export function runTool(name: string, argv: readonly string[], root: string): ToolResult;
export function main(name: string, root: string): void;
