import { expect, it } from 'vitest';
import { parseListenAddress, runUp } from '../../cli/up.ts';

/** `faultline up`'s options that are refused before anything starts, each with what it expects. */

const refused = async (args: string[]): Promise<{ code: number; stderr: string }> => {
  const stderr: string[] = [];
  const code = await runUp(args, { stdout: () => undefined, stderr: (text) => stderr.push(text) }, {});
  return { code, stderr: stderr.join('') };
};

it('refuses a log level other than info, debug or warn, a bad port, half a TLS pair and a bad metrics address, and shows its usage', async () => {
  const level = await refused(['--log-level', 'trace']);
  expect(level.code).toBe(2);
  expect(level.stderr).toContain('--log-level is info, debug or warn');
  expect(level.stderr).toContain('usage: faultline up');
  expect((await refused(['--port', '70000'])).stderr).toContain('--port must be a port number');
  expect((await refused(['--tls-cert', 'c.pem'])).stderr).toContain('--tls-cert and --tls-key go together');
  for (const address of ['9464', '127.0.0.1', '127.0.0.1:70000', ':9464', '::1:9464'])
    expect((await refused(['--metrics-listen', address])).stderr, address).toContain(
      '--metrics-listen is ADDR:PORT',
    );
});

it('reads a metrics address as ADDR:PORT, an IPv6 one in brackets', () => {
  expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
  expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
  expect(parseListenAddress('localhost:9100')).toEqual({ host: 'localhost', port: 9100 });
  expect(parseListenAddress('[::1]')).toBeUndefined();
});
