import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  encodePlanLines,
  planLines,
  planLinesBody,
  signedPlanLines,
  type UnsignedPlan,
} from '../../events/index.ts';

/**
 * Plans in lines (DESIGN §6): what the sh agent reads with awk and verifies with `openssl dgst`.
 * The signature covers exactly the plan's lines before its `sig` line, so the test signs those
 * bytes with a P-256 key and has the real `openssl` verify them as the sh agent does.
 */

const example = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'events', 'examples', 'plan.json'), 'utf8'),
) as UnsignedPlan & { signature?: string };

const scratch = mkdtempSync(join(tmpdir(), 'plan-lines-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('plans in lines', () => {
  it('writes a header, one line per step with its keys sorted, and the fast path, each ending in a newline', () => {
    const text = planLines(example);
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]?.split('\t')).toEqual([
      'plan',
      example.id,
      example.incidentId,
      example.hostId,
      example.bootId ?? '',
      String(example.attempt),
      String(example.wave),
      example.issuedAt,
      String(example.ttlSeconds),
      example.mode,
    ]);
    const steps = lines.filter((line) => line.startsWith('step\t'));
    expect(steps).toHaveLength(example.steps.length + (example.fastPath?.length ?? 0));
    const first = example.steps[0];
    if (first?.action !== 'disk.probe') throw new Error('the example plan starts with disk.probe');
    expect(steps[0]).toBe(
      [
        'step',
        'steps',
        '0',
        'disk.probe',
        ...Object.keys(first)
          .filter((key) => key !== 'action')
          .sort()
          .map((key) => `${key}=${String(first[key as keyof typeof first])}`),
      ].join('\t'),
    );
    expect(text).not.toContain('signature');
  });

  it('is signed over exactly its lines, and the real openssl verifies the signature as the sh agent does', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const lines = planLines(example);
    const signature = sign('sha256', Buffer.from(lines, 'utf8'), privateKey).toString('base64');
    const served = planLinesBody([
      { lines: signedPlanLines(example, signature) },
      { lines: signedPlanLines({ ...example, id: 'pln-second' }, signature) },
    ]);
    expect(served.split('\n\n')).toHaveLength(2);
    const pub = join(scratch, 'pub.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(scratch, 'sig.der'), Buffer.from(signature, 'base64'));
    const verify = (body: string) => {
      writeFileSync(join(scratch, 'plan.txt'), body);
      try {
        execFileSync(
          'openssl',
          [
            'dgst',
            '-sha256',
            '-verify',
            pub,
            '-signature',
            join(scratch, 'sig.der'),
            join(scratch, 'plan.txt'),
          ],
          { stdio: 'pipe' },
        );
        return true;
      } catch {
        return false;
      }
    };
    expect(verify(lines)).toBe(true);
    expect(verify(lines.replace('\tsteps\t0\t', '\tsteps\t1\t'))).toBe(false);
  });

  it('refuses to write a value an agent would split differently', () => {
    expect(() => planLines({ ...example, hostId: 'a\tb' })).toThrow();
    expect(() => signedPlanLines(example, 'not base64!')).toThrow('not a base64 ECDSA signature');
  });

  it('encodes a plan held as the contract type, without parsing it, to the bytes planLines gives', () => {
    const { bootId: _bootId, ...withoutBoot } = example;
    const { fastPath: _fastPath, ...withoutFastPath } = example;
    for (const plan of [example, withoutBoot, withoutFastPath, { ...example, mode: 'dry-run' as const }]) {
      expect(encodePlanLines(plan)).toBe(planLines(plan));
    }
    // Every value is still checked: one an agent would split differently is never written.
    expect(() => encodePlanLines({ ...example, hostId: 'a\tb' })).toThrow();
    const [probe, ...rest] = example.steps;
    if (probe?.action !== 'disk.probe') throw new Error('the example plan starts with disk.probe');
    expect(() => encodePlanLines({ ...example, steps: [{ ...probe, disk: 'sd a' }, ...rest] })).toThrow();
    // A plan outside the contract is still refused where plans are served in lines.
    expect(() =>
      planLines({ ...example, steps: [{ ...probe, extra: 'x' } as typeof probe, ...rest] }),
    ).toThrow();
  });
});
