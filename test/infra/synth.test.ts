import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STACK_NAME } from '../../infra/faultline-app.ts';

const run = promisify(execFile);
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CDK = join(PROJECT_ROOT, 'node_modules', '.bin', 'cdk');
const RECORD_NETWORK = pathToFileURL(fileURLToPath(new URL('./record-network.mjs', import.meta.url))).href;

/** The AWS settings a developer's shell may carry; synth must not need any of them. */
const WITHOUT_AWS = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && !name.startsWith('CDK_')),
);

let workdir: string;
let output: string;
let networkLog: string;
let synth: { stdout: string; stderr: string; seconds: number };

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'faultline-synth-'));
  output = join(workdir, 'cdk.out');
  networkLog = join(workdir, 'network.log');
  const started = performance.now();
  const { stdout, stderr } = await run(CDK, ['synth', '--quiet', '--output', output], {
    cwd: PROJECT_ROOT,
    env: {
      ...WITHOUT_AWS,
      NODE_OPTIONS: `--import=${RECORD_NETWORK}`,
      FAULTLINE_NETWORK_LOG: networkLog,
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  synth = { stdout, stderr, seconds: (performance.now() - started) / 1000 };
}, 180_000);

afterAll(() => {
  if (workdir !== undefined) rmSync(workdir, { recursive: true, force: true });
});

describe('cdk synth', () => {
  it('writes the Faultline template and one bundle per function into the output folder', () => {
    const template = JSON.parse(
      readFileSync(join(output, `${DEFAULT_STACK_NAME}.template.json`), 'utf8'),
    ) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
    };
    const functions = Object.values(template.Resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      const asset = fn.Metadata?.['aws:asset:path'];
      expect(typeof asset).toBe('string');
      expect(existsSync(join(output, asset as string, 'index.mjs'))).toBe(true);
    }
  });

  it('writes bundles that load in plain Node and export the handler Lambda calls', async () => {
    const template = JSON.parse(
      readFileSync(join(output, `${DEFAULT_STACK_NAME}.template.json`), 'utf8'),
    ) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
    };
    const bundles = Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .map((fn) => join(output, fn.Metadata?.['aws:asset:path'] as string, 'index.mjs'));
    // Importing runs each handler module's top level (`handler = createHandler(fromEnv())`) without
    // an environment, as Lambda's init does before the first event: it must neither throw nor
    // need anything outside the bundle.
    const exported = await Promise.all(
      bundles.map(async (bundle) => {
        const { stdout } = await run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            'const m = await import(process.argv[1]); console.log(typeof m.handler);',
            pathToFileURL(bundle).href,
          ],
          {
            cwd: workdir,
            env: {
              ...WITHOUT_AWS,
              FAULTLINE_NETWORK_LOG: networkLog,
              NODE_OPTIONS: `--import=${RECORD_NETWORK}`,
            },
          },
        );
        return stdout.trim();
      }),
    );
    expect(exported).toEqual(bundles.map(() => 'function'));
  });

  it('bundles into each function only its own composition root: notify carries no plan signer, and the store only to keep pages no destination takes', () => {
    const template = JSON.parse(
      readFileSync(join(output, `${DEFAULT_STACK_NAME}.template.json`), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }> };
    const bundleOf = (prefix: string): string => {
      const [, fn] =
        Object.entries(template.Resources).find(
          ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(prefix),
        ) ?? [];
      return readFileSync(join(output, fn?.Metadata?.['aws:asset:path'] as string, 'index.mjs'), 'utf8');
    };
    const notify = bundleOf('Notify');
    expect(notify).not.toContain('KMSClient');
    // A page with no destination is kept in its incident's timeline (functions/notify/notify.ts).
    expect(notify).toContain('DynamoDBClient');
    expect(bundleOf('Api')).not.toContain('KMSClient');
    expect(bundleOf('Correlate')).toContain('DynamoDBClient');
  });

  it('writes each bundle as one file whose first invocation without an environment names what is missing', async () => {
    const template = JSON.parse(
      readFileSync(join(output, `${DEFAULT_STACK_NAME}.template.json`), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }> };
    const folderOf = (prefix: string): string => {
      const [, fn] =
        Object.entries(template.Resources).find(
          ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith(prefix),
        ) ?? [];
      return join(output, fn?.Metadata?.['aws:asset:path'] as string);
    };
    // The first invocation, without an environment: the composition root validates the
    // environment, so the answer names what is missing; an import the bundle did not resolve
    // would fail differently.
    const firstInvocation = async (prefix: string): Promise<unknown> => {
      const folder = folderOf(prefix);
      expect(readdirSync(folder).filter((file) => /\.[cm]?js$/.test(file))).toEqual(['index.mjs']);
      const { stdout } = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { handler } = await import(process.argv[1]);
           const event = { version: '2.0', rawPath: '/v1/health', headers: {}, Records: [],
             requestContext: { http: { method: 'GET', path: '/v1/health' } } };
           try {
             const answer = await handler(event);
             console.log(JSON.stringify({ statusCode: answer.statusCode }));
           } catch (error) {
             console.log(JSON.stringify({ code: error.code, problems: error.problems }));
           }`,
          pathToFileURL(join(folder, 'index.mjs')).href,
        ],
        {
          cwd: workdir,
          env: {
            ...WITHOUT_AWS,
            FAULTLINE_NETWORK_LOG: networkLog,
            NODE_OPTIONS: `--import=${RECORD_NETWORK}`,
          },
        },
      );
      return JSON.parse(stdout.trim().split('\n').pop() ?? '');
    };
    const [api, correlate, notify, sweep] = await Promise.all(
      ['Api', 'Correlate', 'Notify', 'Sweep'].map(firstInvocation),
    );
    expect(api).toEqual({ statusCode: 500 });
    for (const deciding of [correlate, sweep]) {
      expect(deciding).toEqual({
        code: 'config-invalid',
        problems: expect.arrayContaining([expect.stringMatching(/^FAULTLINE_STORE: /)]),
      });
    }
    expect(notify).toEqual({
      code: 'notify-config-invalid',
      problems: expect.arrayContaining([expect.stringMatching(/^FAULTLINE_NOTIFY_CONFIG_SECRET_ARN: /)]),
    });
  });

  it('opens no network connection and looks up no name but loopback', () => {
    const attempts = existsSync(networkLog) ? readFileSync(networkLog, 'utf8') : '';
    expect(attempts).toBe('');
  });

  it('passes the cdk-nag checks it runs (an unsuppressed finding would fail it)', () => {
    expect(`${synth.stdout}${synth.stderr}`).not.toMatch(/\[Error at .*AwsSolutions-/);
    expect(`${synth.stdout}${synth.stderr}`).not.toMatch(/\[Warning at .*AwsSolutions-/);
    console.info(`cdk synth took ${synth.seconds.toFixed(1)} s`);
  });
});
