import { expect, it } from 'vitest';
import { runUp } from '../../cli/up.ts';

/** `faultline up`'s options that are refused before anything starts, each with what it expects. */

const refused = async (args: string[]): Promise<{ code: number; stderr: string }> => {
  const stderr: string[] = [];
  const code = await runUp(args, { stdout: () => undefined, stderr: (text) => stderr.push(text) }, {});
  return { code, stderr: stderr.join('') };
};

it('refuses a log level other than info or debug, a bad port and half a TLS pair, and shows its usage', async () => {
  const level = await refused(['--log-level', 'trace']);
  expect(level.code).toBe(2);
  expect(level.stderr).toContain('--log-level is info or debug');
  expect(level.stderr).toContain('usage: faultline up');
  expect((await refused(['--port', '70000'])).stderr).toContain('--port must be a port number');
  expect((await refused(['--tls-cert', 'c.pem'])).stderr).toContain('--tls-cert and --tls-key go together');
});
