import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SH_AGENT } from '../../helpers/sh-agent.ts';

/**
 * The sh agent's source: ShellCheck (the Debian package) passes on it as POSIX sh with no check
 * disabled except those the file names and justifies next to the directive, and nothing in it
 * evaluates or sources text (issue #15).
 */

const source = readFileSync(SH_AGENT, 'utf8');
/** The lines that are shell code: not comments, not the awk programs written by heredocs. */
const shellLines = (): string[] => {
  const lines: string[] = [];
  let heredoc: string | null = null;
  for (const line of source.split('\n')) {
    if (heredoc !== null) {
      if (line === heredoc) heredoc = null;
      continue;
    }
    const opened = /<<'?([A-Z]+)'?\s*$/.exec(line);
    if (opened?.[1] !== undefined) heredoc = opened[1];
    if (!/^\s*#/.test(line)) lines.push(line);
  }
  return lines;
};

describe('the sh agent source', () => {
  it('passes shellcheck -s sh', () => {
    const run = () => execFileSync('shellcheck', ['-s', 'sh', SH_AGENT], { encoding: 'utf8', stdio: 'pipe' });
    expect(run).not.toThrow();
  });

  it('disables no check without naming and justifying it beside the directive', () => {
    const lines = source.split('\n');
    lines.forEach((line, index) => {
      const directive = /#\s*shellcheck\s+disable=([A-Z0-9,]+)/.exec(line);
      if (directive?.[1] === undefined) return;
      const context = lines.slice(Math.max(0, index - 3), index + 4).join('\n');
      for (const code of directive[1].split(',')) {
        // The code is named again in a comment of its own that says why.
        expect(context.split(code).length - 1, `${code} at line ${index + 1}`).toBeGreaterThan(1);
      }
    });
  });

  it('never evaluates or sources anything', () => {
    const code = shellLines();
    expect(code.filter((line) => /(^|[\s;&|(])eval(\s|$)/.test(line))).toEqual([]);
    expect(code.filter((line) => /(^|[;&|]\s*)(\.|source)\s/.test(line.trim()))).toEqual([]);
  });

  it('is POSIX sh: no bash or ksh syntax the shells of Solaris 10 xpg4 would not take', () => {
    const code = shellLines();
    const bashisms =
      /\[\[|^\s*(local|function|declare|typeset|select)\s|(^|\s)\$'|<<<|\$\{[A-Za-z_]+\/\/|\$\{[A-Za-z_]+:[0-9]/;
    expect(code.filter((line) => bashisms.test(line))).toEqual([]);
  });
});
