import { describe, expect, it } from 'vitest';
import { credentialProcessProvider } from '../../../agent/publish/credential-process.ts';
import { CredentialProcessError } from '../../../agent/publish/errors.ts';

const output = (expiration?: string) =>
  JSON.stringify({
    Version: 1,
    AccessKeyId: 'ASIAEXAMPLE',
    SecretAccessKey: 'secret',
    SessionToken: 'token',
    ...(expiration === undefined ? {} : { Expiration: expiration }),
  });

describe('credentialProcessProvider', () => {
  it('runs the command as an argument vector and reads the credential_process answer', async () => {
    const script = `process.stdout.write(${JSON.stringify(output('2026-11-22T04:00:00Z'))})`;
    const provide = credentialProcessProvider([process.execPath, '-e', script]);
    expect(await provide()).toEqual({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
      expiration: new Date('2026-11-22T04:00:00Z'),
    });
  });

  it('reuses the credentials until five minutes before they expire', async () => {
    let runs = 0;
    let now = new Date('2026-11-22T03:00:00Z');
    const provide = credentialProcessProvider(['aws_signing_helper'], {
      run: async () => {
        runs += 1;
        return output('2026-11-22T04:00:00Z');
      },
      clock: () => now,
    });
    await provide();
    await provide();
    expect(runs).toBe(1);
    now = new Date('2026-11-22T03:56:00Z');
    await provide();
    expect(runs).toBe(2);
  });

  it('says what is wrong when the process fails or prints no credentials', async () => {
    const failing = credentialProcessProvider([
      process.execPath,
      '-e',
      'console.error("no trust anchor"); process.exit(1)',
    ]);
    await expect(failing()).rejects.toThrow(CredentialProcessError);
    await expect(failing()).rejects.toThrow(/no trust anchor/);
    const empty = credentialProcessProvider(['helper'], { run: async () => '{"Version":1}' });
    await expect(empty()).rejects.toThrow(/printed no credentials \(AccessKeyId/);
  });
});
