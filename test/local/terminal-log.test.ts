import { describe, expect, it } from 'vitest';
import { table } from '../../cli/operator-client.ts';
import { printable, readableLine } from '../../local/terminal-log.ts';

/**
 * What reaches the operator's terminal: text from agents and operators (a reason, a summary) is
 * shown, never obeyed, and times are UTC, as on the page and in the CLI.
 */

const FORGED = 'maint\u001b[2J\u001b[H\u001b[32m12:00:00  all incidents resolved\u001b[0m\u0007\u009b';

describe("the terminal's lines", () => {
  it('writes every control character of what agents send as \\xNN, so no escape sequence runs', () => {
    const line = readableLine(
      { level: 'info', message: `vios2 down: ${FORGED}`, incident: 'inc-1', change: 'down' },
      new Date('2026-11-22T03:00:00.000Z'),
    );
    expect(line).toBe(
      '03:00:00  inc-1  vios2 down: maint\\x1b[2J\\x1b[H\\x1b[32m12:00:00  all incidents resolved\\x1b[0m\\x07\\x9b',
    );
    expect(/\p{Cc}/u.test(line)).toBe(false);
  });

  it('keeps plain text as it is', () => {
    expect(printable('vscsi:Server-9080-M9S-SN78AB12C/vios2 is down (shutdown -restart) — ok')).toBe(
      'vscsi:Server-9080-M9S-SN78AB12C/vios2 is down (shutdown -restart) — ok',
    );
  });

  it("shows the CLI's table cells the same way", () => {
    const text = table(['ID', 'SUMMARY'], [['inc-1', FORGED]]);
    expect(/\p{Cc}/u.test(text.replaceAll('\n', ''))).toBe(false);
    expect(text).toContain('maint\\x1b[2J');
  });
});
