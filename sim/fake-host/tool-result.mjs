/**
 * What a fake tool (tools.mjs) answers: its exit code and what it printed, as the executor's
 * program runner and the scan's tool runner read a real tool's.
 */

/** A tool's answer: `{code, stdout, stderr}`. */
export const toolResult = (code, stdout = '', stderr = '') => ({ code, stdout, stderr });
