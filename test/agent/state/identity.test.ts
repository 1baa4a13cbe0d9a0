import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  decideInstance,
  deriveBootId,
  readBootId,
  readMachineId,
  whoBootedAt,
} from '../../../agent/identity.ts';
import { iplVios, viosLayout } from '../../../sim/fake-host/fake-vios.mjs';
import { installServerTools } from '../../../sim/fake-host/server-tools.mjs';
import { createServerHost, type ServerHost } from '../serve/server-fakes.ts';

const root = mkdtempSync(join(tmpdir(), 'faultline-identity-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('readBootId', () => {
  it('reads the Linux boot id under the root', () => {
    mkdirSync(join(root, 'proc', 'sys', 'kernel', 'random'), { recursive: true });
    writeFileSync(
      join(root, 'proc', 'sys', 'kernel', 'random', 'boot_id'),
      'b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1\n',
    );
    expect(readBootId(root)).toBe('b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1');
  });

  it('derives one from the boot time where the platform has none (AIX, IBM i, Solaris)', () => {
    const now = new Date('2026-11-22T03:12:09Z');
    expect(readBootId(join(root, 'nowhere'), now, 3600)).toBe(deriveBootId(now, 3600));
    expect(deriveBootId(now, 3600)).toMatch(/^boot-\d+$/);
  });

  it('derives one from the boot record where there is no uptime (IBM i PASE: os.uptime() throws ENOSYS)', () => {
    const now = new Date('2026-11-22T03:12:09Z');
    const noUptime = (): number => {
      throw Object.assign(new Error('ENOSYS: function not implemented, uv_uptime'), { code: 'ENOSYS' });
    };
    const bootedAt = new Date(now.getTime() - 3600_000);
    expect(readBootId(join(root, 'nowhere'), now, noUptime, () => bootedAt)).toBe(deriveBootId(now, 3600));
    expect(readBootId(join(root, 'nowhere'), now, noUptime, () => null)).toBe('boot-unknown');
  });

  describe('on IBM i PASE, whose TZ is a POSIX rule string Node reads as UTC', () => {
    const hosts: ServerHost[] = [];
    const savedTz = process.env.TZ;
    afterEach(() => {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
      for (const host of hosts.splice(0)) host.remove();
    });
    const noUptime = (): number => {
      throw Object.assign(new Error('ENOSYS: function not implemented, uv_uptime'), { code: 'ENOSYS' });
    };

    it.each(['CST6CDT,M3.2.0,M11.1.0', '<CST>6<CDT>,M3.2.0,M11.1.0', 'America/Chicago'])(
      'derives the boot id from the true boot minute that who -b prints (TZ=%s)',
      (zone) => {
        process.env.TZ = zone;
        // Booted 22 November 2026 09:10:37 UTC (03:10 CST); `who` is the fake, libc-like in its TZ.
        const bootedAt = Date.UTC(2026, 10, 22, 9, 10, 37);
        const host = createServerHost({ now: null, ldoms: null, vios: viosLayout() });
        hosts.push(host);
        host.update((model) => iplVios(model, bootedAt));
        const binDir = join(host.base, 'bin');
        installServerTools(binDir, host.root);
        const now = new Date(Date.UTC(2026, 11, 3, 5, 12, 9));
        const bootId = readBootId(join(root, 'nowhere'), now, noUptime, (at) => whoBootedAt(at, [binDir]));
        expect(bootId).toBe(`boot-${Date.UTC(2026, 10, 22, 9, 10) / 1000}`);
      },
    );
  });

  it('gives one boot one derived id despite the jitter of uptime', () => {
    const now = new Date('2026-11-22T03:12:09Z');
    const later = new Date(now.getTime() + 7_000);
    expect(deriveBootId(later, 3607.4)).toBe(deriveBootId(now, 3600));
  });
});

describe('readMachineId', () => {
  it('reads /etc/machine-id under the root, or nothing', () => {
    expect(readMachineId(root)).toBeUndefined();
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc', 'machine-id'), '0F1E2D3C4B5A69788796A5B4C3D2E1F0\n');
    expect(readMachineId(root)).toBe('0f1e2d3c4b5a69788796a5b4c3d2e1f0');
  });
});

describe('decideInstance', () => {
  const recorded = { instanceId: 'i-1', hostId: 'h1', machineId: 'a'.repeat(32) };
  const newId = () => 'i-2';

  it.each([
    ['nothing recorded', undefined, { hostId: 'h1', machineId: 'a'.repeat(32) }, 'first-start'],
    ['another machine id', recorded, { hostId: 'h1', machineId: 'b'.repeat(32) }, 'machine-id-changed'],
    ['another host id', recorded, { hostId: 'h2', machineId: 'a'.repeat(32) }, 'host-id-changed'],
  ] as const)('makes a new instance id with %s', (_case, before, observed, reason) => {
    expect(decideInstance(before, observed, newId)).toMatchObject({
      instanceId: 'i-2',
      regenerated: true,
      reason,
    });
  });

  it('keeps the instance id on the same machine, and where the platform has no machine id', () => {
    expect(decideInstance(recorded, { hostId: 'h1', machineId: 'a'.repeat(32) }, newId)).toEqual({
      instanceId: 'i-1',
      regenerated: false,
    });
    expect(decideInstance(recorded, { hostId: 'h1', machineId: undefined }, newId).instanceId).toBe('i-1');
  });
});
